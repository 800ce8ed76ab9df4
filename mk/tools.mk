# The project's own tools: a Python venv in .tools/venv (git-ignored) with the pinned
# cargo-lambda, SAM CLI, cfn-lint, checkov, moto, ziglang and duckdb of
# requirements-tools.txt, and the AWS CLI. Every other mk/ file runs them from here.
# pip's output goes through scripts/pip-progress.py, line by line (a filter that
# buffers, like `cut` into a pipe, held it back for a minute), and that says how far the
# silent install of the collected packages has got.

TOOLS_BIN := .tools/venv/bin
# A command's prefix that puts the tools first on PATH (scripts call cargo-lambda,
# moto_server and python by name).
TOOLS_ON_PATH = PATH="$(abspath $(TOOLS_BIN)):$$PATH"

.PHONY: tools awscli

## tools: install cargo-lambda, SAM CLI, cfn-lint, checkov, moto and the AWS CLI into .tools/venv (once; how long and how much: README.md, "Try it locally")
tools: .tools/venv/.installed
.tools/venv/.installed: requirements-tools.txt
	@echo "tools: installing the pinned tools of requirements-tools.txt from PyPI into .tools/venv"
	@echo "       (project folder, git-ignored; once; how long and how much: README.md, \"Try it locally\")"
	python3 -m venv .tools/venv
	PYTHONUNBUFFERED=1 $(TOOLS_BIN)/pip install --disable-pip-version-check --progress-bar off -r requirements-tools.txt \
		| python3 scripts/pip-progress.py .tools/venv; \
		exit $${PIPESTATUS[0]}
	touch $@

## awscli: the AWS CLI in .tools/venv (installed with the tools; export-logs uses it)
awscli: $(TOOLS_BIN)/aws
$(TOOLS_BIN)/aws: | tools
	$(TOOLS_BIN)/pip install --quiet awscli
