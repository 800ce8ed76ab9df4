"""The cost model (scripts/cost.py): its arithmetic on known inputs, its inputs measured
on the sample, and the documents it writes (docs/cost.md, the README's summary) still
being what it writes.

Run from the project root: python3 -m unittest discover -s tests/docs
"""
import importlib.util
import math
import re
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPEC = importlib.util.spec_from_file_location("cost", ROOT / "scripts" / "cost.py")
cost = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(cost)

README_PLACEHOLDER = "(filled by make cost)"


def known_inputs(**changes):
    """The real inputs, with round numbers where a test computes the result by hand."""
    values = cost.load_inputs()
    values.update({
        "payload_per_log_byte": 1.0,
        "input_gzip_ratio": 4.0,
        "ingest_rounding": 1.25,
        "record_bytes_mean": 4000.0,
        "ndjson_per_payload_byte": 2.0,
        "output_gzip_ratio": 8.0,
        "firehose_usd_per_gb": 0.03,
        "partitioning_usd_per_gb": 0.02,
        "processor_point_small": (1.0, 10.0),
        "processor_point_large": (3.0, 20.0),
        "processor_buffer_mb": 0.25,
        "processor_interval_s": 60,
        "function_memory_mb": 1769,
        "lambda_mb_per_vcpu": 1769,
        "lambda_core_speed": 1.0,
        "lambda_arm_usd_per_gb_s": 0.00001,
        "lambda_usd_per_million_requests": 0.2,
        "gb_per_day": 1000.0,
        "sources": 1,
        "s3_interval_s": 300,
        "s3_buffer_mib": 128,
    })
    values.update(changes)
    return values


class FirehoseRounding(unittest.TestCase):
    def test_each_record_is_billed_in_5_kb_steps(self):
        for size, billed in [(1, 5120), (1024, 5120), (5120, 5120), (5121, 10240), (7 * 1024, 10240)]:
            with self.subTest(size=size):
                self.assertEqual(cost.firehose_billed_bytes(size), billed)

    def test_the_rounding_factor_is_the_sum_of_billed_sizes_over_the_sum_of_sizes(self):
        sizes = [1024, 7 * 1024]
        billed = sum(cost.firehose_billed_bytes(s) for s in sizes)
        self.assertEqual(billed, 5120 + 10240)
        self.assertAlmostEqual(billed / sum(sizes), 15 / 8)


class Arithmetic(unittest.TestCase):
    def items(self, values):
        return {item.name: item for item in cost.per_tb_items(values)}

    def test_ingestion_is_the_records_rounded_up_at_the_price(self):
        # 1 TB of logs = 1 TB of payload = 250 GB of records, billed 1.25x, at $0.03.
        item = self.items(known_inputs())["Firehose ingestion"]
        self.assertAlmostEqual(item.quantity, 312.5)
        self.assertAlmostEqual(item.cost, 312.5 * 0.03)

    def test_partitioning_is_charged_on_the_functions_output(self):
        item = self.items(known_inputs())["Dynamic partitioning, data"]
        self.assertAlmostEqual(item.quantity, 2000.0)
        self.assertAlmostEqual(item.cost, 40.0)

    def test_lambda_duration_is_the_measured_line_at_the_memorys_cpu_share(self):
        # 250 GB of records / 0.25 MB = 1,000,000 invocations of 1 MB decompressed each:
        # 5 ms + 5 ms/MB = 10 ms on one core; at 1,769 MB a full core; 1769/1024 GB.
        items = self.items(known_inputs())
        self.assertAlmostEqual(items["Lambda processor, requests"].quantity, 1_000_000)
        self.assertAlmostEqual(items["Lambda processor, requests"].cost, 0.2)
        duration = items["Lambda processor, duration"]
        self.assertAlmostEqual(duration.quantity, 1_000_000 * 0.010 * 1769 / 1024)
        # A quarter of the memory: four times as long, a quarter of the GB: the same GB-s.
        quarter = self.items(known_inputs(function_memory_mb=1769 / 4))["Lambda processor, duration"]
        self.assertAlmostEqual(quarter.quantity, duration.quantity)

    def test_lambda_duration_is_rounded_up_to_the_millisecond(self):
        items = self.items(known_inputs(processor_point_small=(1.0, 10.2), processor_point_large=(3.0, 20.2)))
        self.assertAlmostEqual(items["Lambda processor, duration"].quantity, 1_000_000 * 0.011 * 1769 / 1024)

    def test_a_slow_stream_is_invoked_once_an_interval(self):
        # 1 GB a day: 0.25 GB of records, 1,000 full batches, but 1,440 minutes.
        values = known_inputs(gb_per_day=1.0)
        self.assertAlmostEqual(cost.invocations_per_tb(values), 1440 * 1000)

    def test_objects_come_from_the_interval_or_the_buffer_whichever_is_sooner(self):
        # 1,000 GB a day from one log group: 2,000 GB of NDJSON, 83.3 GB an hour, so the
        # 128 MiB buffer fills 621 times an hour; at 1 GB a day, the interval's 12 win.
        fast = known_inputs()
        self.assertEqual(cost.objects_per_source_hour(fast), math.ceil(2000e9 / 24 / (128 * 2**20)))
        slow = known_inputs(gb_per_day=1.0)
        self.assertEqual(cost.objects_per_source_hour(slow), 12)
        self.assertAlmostEqual(cost.objects_per_tb(slow), 12 * 24 * 1000)

    def test_every_line_is_quantity_times_unit_price(self):
        values = cost.load_inputs()
        for item in (cost.per_tb_items(values) + cost.history_items(values) + cost.athena_items(values)
                     + cost.fixed_monthly_items(values)):
            with self.subTest(item=item.name):
                self.assertAlmostEqual(item.cost, item.quantity / item.per * item.price)

    def test_the_total_per_tb_is_the_sum_of_its_items(self):
        values = cost.load_inputs()
        items = cost.per_tb_items(values)
        self.assertAlmostEqual(cost.total(items), sum(i.quantity / i.per * i.price for i in items))
        self.assertIn(f"**{cost.money(sum(i.cost for i in items))}**", cost.report(values))

    def test_the_summary_adds_up_to_the_same_total(self):
        values = cost.load_inputs()
        summary = cost.summary(values)
        shown = re.findall(r"^\| [^*|][^|]* \| \$([\d,.]+) \|$", summary, re.M)
        total_line = re.search(r"\*\*total per TB\*\* \| \*\*\$([\d,.]+)\*\*", summary).group(1)
        groups = [float(s.replace(",", "")) for s in shown[:-1]]  # the last is the later months' line
        self.assertAlmostEqual(sum(groups), float(total_line.replace(",", "")), delta=0.01 * len(groups))
        self.assertEqual(total_line, cost.money(cost.total(cost.per_tb_items(values)))[1:])


class Inputs(unittest.TestCase):
    def test_the_template_reader_takes_parameter_defaults_and_nothing_else(self):
        text = (
            "Parameters:\n"
            "  Size:\n"
            "    Type: String\n"
            '    Default: "0.25"\n'
            "  Memory:\n"
            "    Type: Number\n"
            "    Default: 512\n"
            "  Pattern:\n"
            "    Default: '{\"source\":[\"aws.iam\"]}'\n"
            "Resources:\n"
            "  Function:\n"
            "    Properties:\n"
            "      MemorySize: !Ref Memory\n"
            "    Default: not-a-parameter\n"
        )
        self.assertEqual(cost.template_defaults(text),
                         {"Size": "0.25", "Memory": "512", "Pattern": '{"source":["aws.iam"]}'})

    def test_template_defaults_are_read_from_the_template(self):
        defaults = cost.template_defaults((ROOT / "template.yaml").read_text())
        values = cost.load_inputs()
        for name, entry in cost.INPUTS.items():
            if "template" in entry:
                with self.subTest(input=name):
                    self.assertEqual(str(values[name]), defaults[entry["template"]])
                    self.assertTrue(cost.source_of(name).startswith("default: template.yaml"))

    def test_every_input_says_where_it_comes_from(self):
        kinds = ("default:", "measured:", "price:", "price rule:", "assumed", "estimated:", "counted:",
                 "README", "AWS Lambda documentation", "calendar")
        for name in cost.INPUTS:
            with self.subTest(input=name):
                self.assertTrue(cost.source_of(name).startswith(kinds), cost.source_of(name))
                if cost.source_of(name).startswith("price"):
                    self.assertIn(cost.READ, cost.source_of(name))

    def test_the_inputs_measured_on_the_sample_are_what_it_measures(self):
        for name, value in cost.measure_sample().items():
            with self.subTest(input=name):
                self.assertEqual(cost.INPUTS[name]["value"], value)


class Documents(unittest.TestCase):
    def test_docs_cost_md_is_what_the_script_writes(self):
        written = (ROOT / "docs" / "cost.md").read_text(encoding="utf-8")
        self.assertEqual(written, cost.document(cost.load_inputs()),
                         "docs/cost.md is out of date: run `make cost-doc`")

    def test_the_readme_summary_is_what_the_script_prints(self):
        readme = (ROOT / "README.md").read_text(encoding="utf-8")
        found = re.search(r"<!-- cost:begin -->(.*?)<!-- cost:end -->", readme, re.S)
        if not found:
            self.skipTest("README.md has no <!-- cost:begin --> / <!-- cost:end --> markers yet")
        held = found.group(1).strip()
        if held in ("", README_PLACEHOLDER):
            self.skipTest(f"README.md's cost markers hold only the placeholder {README_PLACEHOLDER!r}")
        self.assertEqual(held, cost.summary(cost.load_inputs()).strip(),
                         "README.md's cost summary is out of date: paste `scripts/cost.py --summary` "
                         "between its cost markers")


if __name__ == "__main__":
    unittest.main()
