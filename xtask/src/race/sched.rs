//! Determinism: one seeded generator, and a baton that lets exactly one actor run at a
//! time.
//!
//! The victim runs on the calling thread, the reaper and attacker on another (a real
//! thread on the real disk too). Whoever does not hold the baton waits, so the run is a
//! sequence: the adversary asks to be woken at a point of the victim's program — "act 4,
//! before its 2nd filesystem operation" — and the victim hands over the baton when it gets
//! there. The seed chooses the points; the same seed gives the same sequence.
//!
//! A free baton ([`Sched::free`]) holds no one back: the free-running mode's victim runs
//! while the reaper and the attacker do, as they would on a machine.

use std::sync::{Condvar, Mutex, PoisonError};

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, good enough to pick interleavings.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// A generator for one part of a run, independent of the others' draws.
    pub fn derive(seed: u64, parts: &[u64]) -> Self {
        let mut rng = SplitMix64(seed);
        for &p in parts {
            rng = SplitMix64(rng.next_u64() ^ p.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        }
        rng
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.next_u64() % den < num
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Turn {
    Victim,
    Adversary,
}

/// A point of the victim's program: before its `op`-th filesystem operation (0: at its
/// start) of act `act`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Point {
    pub act: usize,
    pub op: usize,
}

struct State {
    turn: Turn,
    /// Where the victim is.
    at: Point,
    /// Where the adversary wants to be woken.
    wake: Option<Point>,
    victim_done: bool,
    adversary_done: bool,
}

/// The baton.
pub struct Sched {
    state: Mutex<State>,
    cv: Condvar,
    /// Nobody waits for anybody.
    free: bool,
}

impl Sched {
    /// The adversary holds the baton first, so that it says where it wants to be woken
    /// before the victim can get past that point.
    pub fn new() -> Self {
        Sched {
            state: Mutex::new(State {
                turn: Turn::Adversary,
                at: Point { act: 0, op: 0 },
                wake: None,
                victim_done: false,
                adversary_done: false,
            }),
            cv: Condvar::new(),
            free: false,
        }
    }

    /// A baton nobody waits for: the victim's calls return at once.
    pub fn free() -> Self {
        Sched {
            free: true,
            ..Sched::new()
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait_for<'a>(
        &self,
        mut st: std::sync::MutexGuard<'a, State>,
        turn: Turn,
    ) -> std::sync::MutexGuard<'a, State> {
        while st.turn != turn {
            st = self.cv.wait(st).unwrap_or_else(PoisonError::into_inner);
        }
        st
    }

    /// Victim: act `act` starts.
    pub fn begin_act(&self, act: usize) {
        if self.free {
            return;
        }
        let st = self.wait_for(self.lock(), Turn::Victim);
        self.victim_at(st, Point { act, op: 0 });
    }

    /// Victim: a filesystem operation is about to run.
    pub fn before_op(&self) {
        if self.free {
            return;
        }
        let st = self.wait_for(self.lock(), Turn::Victim);
        if st.victim_done {
            return;
        }
        let at = Point {
            act: st.at.act,
            op: st.at.op + 1,
        };
        self.victim_at(st, at);
    }

    fn victim_at(&self, mut st: std::sync::MutexGuard<'_, State>, at: Point) {
        st.at = at;
        while !st.adversary_done && st.wake.is_some_and(|w| w <= st.at) {
            st.turn = Turn::Adversary;
            self.cv.notify_all();
            st = self.wait_for(st, Turn::Victim);
        }
    }

    /// Victim: the program is over; the adversary finishes whatever it still does.
    pub fn finish_victim(&self) {
        if self.free {
            return;
        }
        let mut st = self.wait_for(self.lock(), Turn::Victim);
        st.victim_done = true;
        while !st.adversary_done {
            st.turn = Turn::Adversary;
            self.cv.notify_all();
            st = self.wait_for(st, Turn::Victim);
        }
    }

    /// Adversary: sleep until the victim reaches `point` (at once if it is past it, or
    /// done).
    pub fn wait_until(&self, point: Point) {
        let mut st = self.wait_for(self.lock(), Turn::Adversary);
        if st.victim_done || st.at >= point {
            return;
        }
        st.wake = Some(point);
        st.turn = Turn::Victim;
        self.cv.notify_all();
        st = self.wait_for(st, Turn::Adversary);
        st.wake = None;
    }

    /// Adversary: let the victim do `ops` more operations (a slowed reaper between its
    /// `lstat` and its `unlink`).
    pub fn pause(&self, ops: usize) {
        let at = self.wait_for(self.lock(), Turn::Adversary).at;
        self.wait_until(Point {
            act: at.act,
            op: at.op + ops,
        });
    }

    /// Adversary: nothing more to do.
    pub fn finish_adversary(&self) {
        let mut st = self.wait_for(self.lock(), Turn::Adversary);
        st.adversary_done = true;
        st.turn = Turn::Victim;
        self.cv.notify_all();
    }
}
