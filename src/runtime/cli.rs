//! What a function's binary answers when run by hand: the settings it reads and, for the
//! export converter, the export prefix of a log group. Lambda starts the binaries without
//! arguments, so these never run there; the project's scripts and tests call them
//! instead of repeating the conventions they print.

use std::io::Write;

use crate::export::key::destination_prefix;

/// Which function's binary is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// `firehose-logs-processor`.
    Processor,
    /// `export-converter`.
    ExportConverter,
}

impl Function {
    fn name(self) -> &'static str {
        match self {
            Self::Processor => "firehose-logs-processor",
            Self::ExportConverter => "export-converter",
        }
    }

    fn settings(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Self::Processor => &crate::processor::config::ENV_VARS,
            Self::ExportConverter => &crate::export::config::ENV_VARS,
        }
    }

    fn usage(self) -> String {
        let mut usage = format!(
            "usage: {name}                       run as a Lambda function (under the Runtime API)\n       \
             {name} settings              the environment variables it reads, NAME=DEFAULT\n",
            name = self.name()
        );
        if self == Self::ExportConverter {
            usage.push_str(
                "       export-converter prefix ACCOUNT LOG_GROUP [ROOT]\n                                    \
                 the destination prefix an export task of LOG_GROUP writes under\n                                    \
                 (ROOT defaults to exports)\n",
            );
        }
        usage
    }
}

/// Answers the command in `args` (the arguments after the program's name): `None` when
/// there is none, so that the binary runs as a function; else the exit status, with the
/// answer written to `out` or the complaint to `err`.
pub fn answer(
    function: Function,
    args: &[String],
    out: &mut impl Write,
    err: &mut impl Write,
) -> Option<i32> {
    let written = match args {
        [] => return None,
        [help] if matches!(help.as_str(), "help" | "-h" | "--help") => {
            out.write_all(function.usage().as_bytes())
        }
        [command] if command == "settings" => function
            .settings()
            .iter()
            .try_for_each(|(name, default)| writeln!(out, "{name}={default}")),
        [command, rest @ ..] if command == "prefix" && function == Function::ExportConverter => {
            return Some(prefix(rest, out, err));
        }
        _ => {
            let _ = write!(err, "{}", function.usage());
            return Some(2);
        }
    };
    Some(if written.is_ok() { 0 } else { 1 })
}

fn prefix(args: &[String], out: &mut impl Write, err: &mut impl Write) -> i32 {
    let (account, log_group, root) = match args {
        [account, log_group] => (account, log_group.as_str(), "exports"),
        [account, log_group, root] => (account, log_group.as_str(), root.as_str()),
        _ => {
            let _ = writeln!(
                err,
                "usage: export-converter prefix ACCOUNT LOG_GROUP [ROOT]"
            );
            return 2;
        }
    };
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        let _ = writeln!(err, "ACCOUNT is not a 12-digit account id: {account:?}");
        return 2;
    }
    // CloudWatch Logs' own rule for a log group name: 1 to 512 characters.
    if log_group.is_empty() || log_group.chars().count() > 512 {
        let _ = writeln!(err, "LOG_GROUP must have 1 to 512 characters");
        return 2;
    }
    let root = root.trim_end_matches('/');
    match writeln!(out, "{}", destination_prefix(root, account, log_group)) {
        Ok(()) => 0,
        Err(_) => 1,
    }
}

/// [`answer`] for this process: its arguments, stdout and stderr.
pub fn answer_process(function: Function) -> Option<i32> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    answer(
        function,
        &args,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(function: Function, args: &[&str]) -> (Option<i32>, String, String) {
        let args: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let status = answer(function, &args, &mut out, &mut err);
        let text = |bytes: Vec<u8>| String::from_utf8(bytes).unwrap();
        (status, text(out), text(err))
    }

    #[test]
    fn no_arguments_runs_the_function() {
        assert_eq!(run(Function::Processor, &[]).0, None);
        assert_eq!(run(Function::ExportConverter, &[]).0, None);
    }

    #[test]
    fn settings_are_the_configurations_own_list() {
        let (status, out, _) = run(Function::Processor, &["settings"]);
        assert_eq!(status, Some(0));
        let expected: String = crate::processor::config::ENV_VARS
            .iter()
            .map(|(name, default)| format!("{name}={default}\n"))
            .collect();
        assert_eq!(out, expected);
        let (_, out, _) = run(Function::ExportConverter, &["settings"]);
        assert!(
            out.starts_with("PARTITION_LAYOUT=account-source-hour\n"),
            "{out}"
        );
        assert_eq!(out.lines().count(), crate::export::config::ENV_VARS.len());
    }

    #[test]
    fn the_prefix_is_the_conventions() {
        let (status, out, err) = run(
            Function::ExportConverter,
            &["prefix", "123456789012", "/aws/lambda/a#b é"],
        );
        assert_eq!((status, err.as_str()), (Some(0), ""));
        assert_eq!(out, "exports/123456789012/!aws!lambda!a*23b*20*C3*A9\n");
        let (_, out, _) = run(
            Function::ExportConverter,
            &["prefix", "123456789012", "app", "history/"],
        );
        assert_eq!(out, "history/123456789012/app\n");
    }

    #[test]
    fn bad_arguments_exit_2_with_one_clear_line() {
        for (function, args, says) in [
            (
                Function::ExportConverter,
                &["prefix", "12345", "app"][..],
                "12-digit",
            ),
            (
                Function::ExportConverter,
                &["prefix", "123456789012", ""][..],
                "1 to 512",
            ),
            (
                Function::ExportConverter,
                &["prefix", "123456789012"][..],
                "usage",
            ),
            (
                Function::Processor,
                &["prefix", "123456789012", "app"][..],
                "usage",
            ),
            (Function::Processor, &["unknown"][..], "usage"),
        ] {
            let (status, out, err) = run(function, args);
            assert_eq!(status, Some(2), "{args:?}");
            assert!(out.is_empty() && err.contains(says), "{args:?}: {err}");
        }
        let (status, out, _) = run(Function::ExportConverter, &["--help"]);
        assert_eq!(status, Some(0));
        assert!(out.contains("prefix ACCOUNT LOG_GROUP"), "{out}");
    }
}
