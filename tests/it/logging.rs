//! The events the library emits through `tracing`. The hot paths build theirs out of line
//! and only when a subscriber listens; a listener still gets every one.

use std::fmt;
use std::sync::{Arc, Mutex};

use tempdir_core::TemporaryDirectory;
use tempdir_memory::{MemoryBackend, MemoryFs};
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// A subscriber that keeps the message of every event.
#[derive(Clone, Default)]
struct Messages(Arc<Mutex<Vec<String>>>);

impl Messages {
    fn count(&self, text: &str) -> usize {
        let messages = self.0.lock().unwrap();
        messages.iter().filter(|message| *message == text).count()
    }
}

impl Subscriber for Messages {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::DEBUG)
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        struct Message<'a>(&'a mut String);
        impl Visit for Message<'_> {
            fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
                if field.name() == "message" {
                    *self.0 = format!("{value:?}");
                }
            }
        }
        let mut text = String::new();
        event.record(&mut Message(&mut text));
        self.0.lock().unwrap().push(text);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn every_file_made_and_removed_is_logged_to_a_listener() {
    // `tracing` keeps for the whole process which event sites anyone wants: a site another
    // test reaches first, while this subscriber is being installed, can stay unwanted. So
    // the case runs alone, in a child process, where there are child processes; elsewhere
    // the sites are asked again once the subscriber is in.
    #[cfg(unix)]
    if std::env::var_os(crate::harness::CHILD).is_none() {
        let test = format!(
            "{}::every_file_made_and_removed_is_logged_to_a_listener",
            module_path!()
        );
        crate::harness::run_child(&test, &[(crate::harness::CHILD, "logging".as_ref())]);
        return;
    }
    let fs = MemoryFs::with_seed(7);
    let messages = Messages::default();
    // A subscriber for this thread alone.
    tracing::subscriber::with_default(messages.clone(), || {
        tracing::callsite::rebuild_interest_cache();
        let backend = MemoryBackend::new(&fs, "/tmp").unwrap();
        let tmp = TemporaryDirectory::with_backend(backend).unwrap();
        let (_, first) = tmp.mkstemp().unwrap();
        let _second = tmp.mkstemp().unwrap();
        tmp.remove(&first).unwrap();
        assert!(tmp.cleanup().is_complete());
    });
    assert_eq!(messages.count("created temporary file"), 2);
    assert_eq!(
        messages.count("removed temporary file"),
        2,
        "one by remove, one by cleanup"
    );
}
