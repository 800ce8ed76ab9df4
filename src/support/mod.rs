//! What both functions share and neither owns: error chains and panic text for the log,
//! the clock and the invocation's deadline, reading settings, and the metrics line.

pub mod clock;
pub mod emf;
pub mod settings;

/// The error and its causes, `outer: inner: innermost`.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// What a caught panic said, when it said it as text (`panic!` always does).
pub fn panic_text(panic: &(dyn std::any::Any + Send)) -> Option<String> {
    if let Some(text) = panic.downcast_ref::<&str>() {
        Some((*text).to_owned())
    } else {
        panic.downcast_ref::<String>().cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn the_chain_names_every_cause_in_order() {
        let error = Outer(std::io::Error::other("inner"));
        assert_eq!(error_chain(&error), "outer: inner");
    }

    #[test]
    fn panic_text_reads_both_payload_kinds() {
        let caught = std::panic::catch_unwind(|| panic!("static text")).unwrap_err();
        assert_eq!(panic_text(caught.as_ref()).unwrap(), "static text");
        let caught = std::panic::catch_unwind(|| panic!("{} text", "formatted")).unwrap_err();
        assert_eq!(panic_text(caught.as_ref()).unwrap(), "formatted text");
        let caught = std::panic::catch_unwind(|| std::panic::panic_any(7_u8)).unwrap_err();
        assert_eq!(panic_text(caught.as_ref()), None);
    }
}
