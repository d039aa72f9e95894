/*
 * A stand-in for Windows' bcryptprimitives.dll, which Wine 8.0 lacks: Rust's std (1.78
 * and later) imports ProcessPrng from it, so without it no Rust binary starts under Wine
 * (status c0000135). Built by .ci/windows and put beside the test binaries; never shipped.
 */
#include <windows.h>

/* RtlGenRandom, exported by advapi32 under this name. */
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    /* RtlGenRandom takes a ULONG: fill larger requests in pieces. */
    while (length > 0) {
        ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk)) {
            return FALSE;
        }
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
