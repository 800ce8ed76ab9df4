"""What template.yaml says about the lake, evaluated from the file itself.

- `Template`: a small CloudFormation evaluator (parameters with their defaults, pseudo
  parameters, Conditions, Ref, Fn::Sub/Join/If/Equals/Or/And/Not/Select/Split/GetAtt),
  enough to read the delivery stream's `Prefix`/`ErrorOutputPrefix` and the Glue tables
  for any `PartitionLayout`.
- `firehose_expression`: Firehose's own `!{namespace:argument}` expressions in a prefix.
- `HiveType`: THE one place where Hive/Glue column types are mapped to DuckDB types, and
  where it is decided which JSON values fit a declared type (used both by the DuckDB
  tables and by the tests over the function's output).
- `GlueTable`: a Glue table resource, and the DuckDB view that reads it strictly.
"""
import datetime
import re
from dataclasses import dataclass, field

import yaml

# ---------------------------------------------------------------- CloudFormation

_NO_VALUE = object()

class _Loader(yaml.SafeLoader):
    pass


def _construct_tag(loader, suffix, node):
    """`!Ref x` -> {"Ref": x}, `!Condition c` -> {"Condition": c}, `!Name v` -> {"Fn::Name": v}."""
    name = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if name == "Fn::GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_Loader.add_multi_constructor("!", _construct_tag)


def load_template(path):
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=_Loader)  # noqa: S506 (SafeLoader subclass)


class Template:
    """template.yaml evaluated for one set of parameter values (defaults otherwise)."""

    def __init__(self, path, parameters=None, account="123456789012", region="us-east-1",
                 stack_name="firehose-logs-processor"):
        self.doc = load_template(path)
        self.parameters = dict(parameters or {})
        unknown = set(self.parameters) - set(self.doc.get("Parameters", {}))
        if unknown:
            raise ValueError(f"template.yaml has no parameter {sorted(unknown)}")
        self.pseudo = {"AWS::AccountId": account, "AWS::Region": region,
                       "AWS::Partition": "aws", "AWS::StackName": stack_name,
                       "AWS::URLSuffix": "amazonaws.com", "AWS::NoValue": _NO_VALUE}
        self._conditions = {}

    # -- values
    def param(self, name):
        spec = self.doc["Parameters"][name]
        value = self.parameters.get(name, spec.get("Default", ""))
        if "AllowedValues" in spec and str(value) not in map(str, spec["AllowedValues"]):
            raise ValueError(f"{name}={value!r}: allowed {spec['AllowedValues']}")
        if spec.get("Type") in ("CommaDelimitedList", "List<String>"):
            return [] if value in ("", None) else [v.strip() for v in str(value).split(",")]
        return str(value)

    def condition(self, name):
        if name not in self._conditions:
            self._conditions[name] = bool(self.eval(self.doc["Conditions"][name]))
        return self._conditions[name]

    def resource(self, logical):
        return self.doc["Resources"][logical]

    def ref(self, name):
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.doc.get("Parameters", {}):
            return self.param(name)
        res = self.resource(name)
        props = res.get("Properties", {})
        kind = res["Type"]
        if kind == "AWS::Glue::Database":
            return self.eval(props["DatabaseInput"]["Name"])
        if kind in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
            return self.eval(props["FunctionName"])
        if kind == "AWS::KinesisFirehose::DeliveryStream":
            return self.eval(props["DeliveryStreamName"])
        if kind == "AWS::S3::Bucket" and "BucketName" in props:
            return self.eval(props["BucketName"])
        if kind == "AWS::Logs::LogGroup" and "LogGroupName" in props:
            return self.eval(props["LogGroupName"])
        return name.lower()

    def getatt(self, logical, attribute):
        kind = self.resource(logical)["Type"]
        if attribute == "Arn" and kind in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
            return (f"arn:{self.pseudo['AWS::Partition']}:lambda:{self.pseudo['AWS::Region']}:"
                    f"{self.pseudo['AWS::AccountId']}:function:{self.ref(logical)}")
        if attribute == "Arn":
            return f"arn:aws:::{logical}"
        return f"{logical}.{attribute}"

    def _sub(self, text, variables):
        def one(match):
            inner = match.group(1)
            if inner.startswith("!"):
                return "${" + inner[1:] + "}"
            if inner in variables:
                return str(variables[inner])
            if "." in inner and not inner.startswith("AWS::"):
                return str(self.getatt(*inner.split(".", 1)))
            return str(self.ref(inner))
        return re.sub(r"\$\{([^}]*)\}", one, text)

    def eval(self, node):
        if isinstance(node, list):
            out = [self.eval(v) for v in node]
            return [v for v in out if v is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, arg), = node.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::If":
                name, yes, no = arg
                return self.eval(yes if self.condition(name) else no)
            if key == "Fn::Equals":
                a, b = (self.eval(v) for v in arg)
                return str(a) == str(b)
            if key == "Fn::Not":
                return not self.eval(arg[0])
            if key == "Fn::And":
                return all(self.eval(v) for v in arg)
            if key == "Fn::Or":
                return any(self.eval(v) for v in arg)
            if key == "Fn::Join":
                sep, items = arg
                return str(sep).join(str(v) for v in self.eval(items))
            if key == "Fn::Split":
                sep, text = arg
                return str(self.eval(text)).split(sep)
            if key == "Fn::Select":
                index, items = arg
                return self.eval(items)[int(self.eval(index))]
            if key == "Fn::Sub":
                if isinstance(arg, list):
                    text, variables = arg
                    return self._sub(text, {k: self.eval(v) for k, v in variables.items()})
                return self._sub(arg, {})
            if key == "Fn::GetAtt":
                return self.getatt(*arg)
            if key.startswith("Fn::"):
                raise NotImplementedError(f"{key} is not evaluated here")
        out = {k: self.eval(v) for k, v in node.items()}
        return {k: v for k, v in out.items() if v is not _NO_VALUE}

    # -- what the lake needs
    def s3_destination(self):
        return self.eval(self.resource("DeliveryStream")["Properties"]
                         ["ExtendedS3DestinationConfiguration"])

    def bucket(self):
        return self.ref("LogBucket")

    def table(self, logical):
        props = self.eval(self.resource(logical)["Properties"])
        return GlueTable.from_table_input(props["DatabaseName"], props["TableInput"])


# ---------------------------------------------------------------- Firehose expressions

_JAVA_DATE = [("yyyy", "%Y"), ("yy", "%y"), ("MM", "%m"), ("dd", "%d"), ("HH", "%H"),
              ("mm", "%M"), ("ss", "%S")]


def java_date_format(pattern):
    """A Java DateTimeFormatter pattern (as Firehose and partition projection use) as strftime."""
    out, i = "", 0
    while i < len(pattern):
        for java, py in _JAVA_DATE:
            if pattern.startswith(java, i):
                out += py
                i += len(java)
                break
        else:
            out += pattern[i].replace("%", "%%")
            i += 1
    return out


class PrefixError(Exception):
    """Firehose could not evaluate the prefix (it would use the error prefix instead)."""


def firehose_expression(expr, keys=None, arrival_ms=0, error_type=None):
    """Evaluates Firehose's `!{namespace:argument}` expressions in an S3 prefix."""
    when = datetime.datetime.fromtimestamp(arrival_ms / 1000, tz=datetime.timezone.utc)

    def one(match):
        namespace, _, argument = match.group(1).partition(":")
        if namespace == "partitionKeyFromLambda":
            if not keys or argument not in keys or keys[argument] in (None, ""):
                raise PrefixError(f"no partition key {argument!r} from the function")
            return str(keys[argument])
        if namespace == "timestamp":
            return when.strftime(java_date_format(argument))
        if namespace == "firehose" and argument == "error-output-type":
            if error_type is None:
                raise PrefixError("error-output-type outside the error prefix")
            return error_type
        raise PrefixError(f"!{{{match.group(1)}}} is not supported here")
    return re.sub(r"!\{([^}]*)\}", one, expr)


# ---------------------------------------------------------------- Hive/Glue types

# THE mapping from a Hive/Glue scalar type to its DuckDB type and to the JSON value types
# that fit it (as DuckDB's json_type() names them; None = JSON null or absent always fits).
# Strict by design: the OpenX SerDe would coerce "12" into a bigint or 12 into a string;
# here such a value is an error, because the function's contract says what type each
# field has. One exception, documented in template.yaml: a JSON object read through a
# `string` column is its JSON text (`detail`, `message_json`), as the OpenX SerDe does.
SCALARS = {
    # hive type:  (DuckDB type, JSON types that fit)
    "string":    ("VARCHAR", ("VARCHAR", "OBJECT")),
    "varchar":   ("VARCHAR", ("VARCHAR",)),
    "char":      ("VARCHAR", ("VARCHAR",)),
    "bigint":    ("BIGINT", ("BIGINT", "UBIGINT")),
    "int":       ("INTEGER", ("BIGINT", "UBIGINT")),
    "integer":   ("INTEGER", ("BIGINT", "UBIGINT")),
    "smallint":  ("SMALLINT", ("BIGINT", "UBIGINT")),
    "tinyint":   ("TINYINT", ("BIGINT", "UBIGINT")),
    "double":    ("DOUBLE", ("DOUBLE", "BIGINT", "UBIGINT")),
    "float":     ("FLOAT", ("DOUBLE", "BIGINT", "UBIGINT")),
    "decimal":   ("DECIMAL", ("DOUBLE", "BIGINT", "UBIGINT")),
    "boolean":   ("BOOLEAN", ("BOOLEAN",)),
    "date":      ("DATE", ("VARCHAR",)),        # and the text must parse as a date
    "timestamp": ("TIMESTAMP", ("VARCHAR",)),   # and the text must parse as a timestamp
}
# Composite types:  array<T> -> T[]             fits a JSON array whose elements fit T
#                   map<string,V> -> MAP(VARCHAR, V)  fits a JSON object whose values fit V
#                   struct<a:T,...> -> STRUCT(a T, ...) fits a JSON object whose fields fit
_JSON_TYPE_OF_PYTHON = [(bool, "BOOLEAN"), (int, "BIGINT"), (float, "DOUBLE"), (str, "VARCHAR"),
                        (list, "ARRAY"), (dict, "OBJECT")]


def _python_json_type(value):
    for kind, name in _JSON_TYPE_OF_PYTHON:
        if isinstance(value, kind):
            return name
    raise TypeError(type(value))


@dataclass
class HiveType:
    name: str                      # scalar name, or array / map / struct
    args: list = field(default_factory=list)    # element types, or [(field, type)] for struct
    text: str = ""

    @classmethod
    def parse(cls, text):
        parsed, rest = cls._parse(text.replace(" ", "").lower())
        if rest:
            raise ValueError(f"cannot read Hive type {text!r}")
        parsed.text = text
        return parsed

    @classmethod
    def _parse(cls, s):
        m = re.match(r"[a-z]+", s)
        if not m:
            raise ValueError(f"cannot read Hive type at {s!r}")
        name, s = m.group(0), s[m.end():]
        if name in ("array", "map", "struct"):
            if not s.startswith("<"):
                raise ValueError(f"{name} without <...>")
            s, args = s[1:], []
            while True:
                label = None
                if name == "struct":
                    label, s = s.split(":", 1)
                inner, s = cls._parse(s)
                args.append((label, inner) if name == "struct" else inner)
                if s.startswith(","):
                    s = s[1:]
                    continue
                if s.startswith(">"):
                    s = s[1:]
                    break
                raise ValueError(f"expected , or > at {s!r}")
            if name == "array" and len(args) != 1 or name == "map" and len(args) != 2:
                raise ValueError(f"wrong number of type arguments for {name}")
            if name == "map" and args[0].name not in ("string", "varchar"):
                raise ValueError("only string map keys can come from JSON")
            return cls(name, args), s
        if re.match(r"\(\d+(,\d+)?\)", s):     # decimal(10,2), varchar(20)
            size = re.match(r"\(\d+(,\d+)?\)", s).group(0)
            s = s[len(size):]
            if name == "decimal":
                return cls("decimal", [size]), s
        if name not in SCALARS:
            raise ValueError(f"Hive type {name!r} is not mapped to DuckDB")
        return cls(name), s

    def duckdb(self):
        if self.name == "array":
            return f"{self.args[0].duckdb()}[]"
        if self.name == "map":
            return f"MAP(VARCHAR, {self.args[1].duckdb()})"
        if self.name == "struct":
            return "STRUCT(" + ", ".join(f'"{n}" {t.duckdb()}' for n, t in self.args) + ")"
        if self.name == "decimal" and self.args:
            return f"DECIMAL{self.args[0]}"
        return SCALARS[self.name][0]

    def sql_fits(self, expr, depth=0):
        """SQL: true when the JSON value `expr` fits this type (null or absent fits)."""
        t = f"json_type({expr})"
        if self.name == "array":
            x = f"x{depth}"
            inner = self.args[0].sql_fits(x, depth + 1)
            body = (f"{t} = 'ARRAY' AND coalesce(list_bool_and(list_transform("
                    f"json_extract({expr}, '$[*]'), lambda {x}: {inner})), true)")
        elif self.name == "map":
            x = f"x{depth}"
            inner = self.args[1].sql_fits(x, depth + 1)
            body = (f"{t} = 'OBJECT' AND coalesce(list_bool_and(list_transform("
                    f"json_extract({expr}, '$.*'), lambda {x}: {inner})), true)")
        elif self.name == "struct":
            fields = " AND ".join(t_.sql_fits(f"json_extract({expr}, '$.\"{n}\"')", depth + 1)
                                  for n, t_ in self.args)
            body = f"{t} = 'OBJECT' AND {fields}"
        else:
            duck, kinds = SCALARS[self.name]
            body = f"{t} IN ({', '.join(repr(k) for k in kinds)})"
            if self.name in ("date", "timestamp"):
                body += f" AND TRY_CAST(({expr})->>'$' AS {duck}) IS NOT NULL"
            elif kinds[-1] == "UBIGINT":
                body += f" AND TRY_CAST({expr} AS {duck}) IS NOT NULL"
        return f"({t} IS NULL OR {t} = 'NULL' OR ({body}))"

    def sql_value(self, expr):
        """SQL: the JSON value `expr` as this type's DuckDB value (call after sql_fits)."""
        return f"from_json({expr}, '\"{self.duckdb()}\"')"

    def fits(self, value):
        """Python: whether a decoded JSON value fits this type (same rules as sql_fits)."""
        if value is None:
            return True
        kind = _python_json_type(value)
        if self.name == "array":
            return kind == "ARRAY" and all(self.args[0].fits(v) for v in value)
        if self.name == "map":
            return kind == "OBJECT" and all(self.args[1].fits(v) for v in value.values())
        if self.name == "struct":
            return kind == "OBJECT" and all(t.fits(value.get(n)) for n, t in self.args)
        duck, kinds = SCALARS[self.name]
        if kind not in kinds:
            return False
        if kind == "BIGINT":
            bits = {"BIGINT": 64, "INTEGER": 32, "SMALLINT": 16, "TINYINT": 8}.get(duck)
            return bits is None or -(1 << (bits - 1)) <= value < (1 << (bits - 1))
        if self.name == "date":
            return _parses(datetime.date.fromisoformat, value)
        if self.name == "timestamp":
            return _parses(lambda v: datetime.datetime.fromisoformat(v.replace("Z", "+00:00")), value)
        return True

    def exercised_by(self, value):
        """Whether a value shows the type at work: not null, and a container not empty."""
        if value is None:
            return False
        if self.name in ("array", "map", "struct"):
            return bool(value)
        return True


def _parses(parse, value):
    try:
        parse(value)
        return True
    except ValueError:
        return False


# ---------------------------------------------------------------- Glue tables

def _sql_string(text):
    return "'" + str(text).replace("'", "''") + "'"


def _ident(name):
    return '"' + name.replace('"', '""') + '"'


@dataclass
class GlueTable:
    database: str
    name: str
    columns: list            # [(name, HiveType)]
    partition_keys: list     # [(name, HiveType)]
    location: str
    location_template: str
    projection: dict         # projection.* table parameters, without the prefix
    json_keys: dict          # column -> JSON key (the SerDe's mapping.* parameters)

    @classmethod
    def from_table_input(cls, database, table_input):
        params = table_input.get("Parameters", {})
        storage = table_input["StorageDescriptor"]
        serde = storage.get("SerdeInfo", {}).get("Parameters", {})
        return cls(
            database=database,
            name=table_input["Name"],
            columns=[(c["Name"], HiveType.parse(c["Type"])) for c in storage["Columns"]],
            partition_keys=[(c["Name"], HiveType.parse(c["Type"]))
                            for c in table_input.get("PartitionKeys", [])],
            location=storage["Location"],
            location_template=params.get("storage.location.template", ""),
            projection={k[len("projection."):]: v for k, v in params.items()
                        if k.startswith("projection.")},
            json_keys={c: serde.get(f"mapping.{c}", c) for c, _ in
                       [(c["Name"], None) for c in storage["Columns"]]},
        )

    def key_template(self, bucket):
        """The location template as an S3 key (bucket dropped), with ${key} placeholders."""
        prefix = f"s3://{bucket}/"
        if not self.location_template.startswith(prefix):
            raise ValueError(f"{self.name}: location template outside s3://{bucket}/")
        return self.location_template[len(prefix):]

    def template_keys(self):
        return re.findall(r"\$\{([^}]+)\}", self.location_template)

    def path_regex(self, bucket, root):
        """Regex over an object path under `root`: one group per template key, in order."""
        parts = re.split(r"(\$\{[^}]+\})", self.key_template(bucket))
        body = "".join("([^/]+)" if p.startswith("${") else re.escape(p) for p in parts)
        return "^" + re.escape(str(root).rstrip("/") + "/") + body + r"[^/]+$"

    def glob(self, bucket, root):
        return str(root).rstrip("/") + "/" + re.sub(r"\$\{[^}]+\}", "*",
                                                    self.key_template(bucket)) + "*"

    def projection_sql(self, key, expr):
        """SQL: true when a partition value is one that the projection would produce."""
        kind = self.projection.get(f"{key}.type")
        if kind == "date":
            fmt = java_date_format(self.projection.get(f"{key}.format", "yyyy-MM-dd"))
            return f"strftime(try_strptime({expr}, {_sql_string(fmt)}), {_sql_string(fmt)}) = {expr}"
        if kind == "integer":
            low, high = (int(v) for v in self.projection[f"{key}.range"].split(","))
            digits = int(self.projection.get(f"{key}.digits", "1"))
            return (f"(TRY_CAST({expr} AS BIGINT) BETWEEN {low} AND {high} AND "
                    f"lpad(CAST(TRY_CAST({expr} AS BIGINT) AS VARCHAR), {digits}, '0') = {expr})")
        # injected: any value (Athena insists on it in WHERE instead); enum: see the README.
        return "true"

    def projection_fits(self, key, value):
        """Python twin of projection_sql."""
        kind = self.projection.get(f"{key}.type")
        if kind == "date":
            fmt = java_date_format(self.projection.get(f"{key}.format", "yyyy-MM-dd"))
            try:
                return datetime.datetime.strptime(value, fmt).strftime(fmt) == value
            except ValueError:
                return False
        if kind == "integer":
            low, high = (int(v) for v in self.projection[f"{key}.range"].split(","))
            digits = int(self.projection.get(f"{key}.digits", "1"))
            return value.isdigit() and low <= int(value) <= high and str(int(value)).zfill(digits) == value
        return True

    def injected_keys(self):
        return [k for k, _ in self.partition_keys if self.projection.get(f"{k}.type") == "injected"]

    def view_sql(self, bucket, root, files_exist=True):
        """A DuckDB view that reads the table's objects as Athena would, strictly typed."""
        q = f"{_ident(self.database)}.{_ident(self.name)}"
        names = [k for k, _ in self.partition_keys]
        if sorted(self.template_keys()) != sorted(names):
            raise ValueError(f"{self.name}: location template keys {self.template_keys()} "
                             f"are not the partition keys {names}")
        if not files_exist:
            cols = [f"CAST(NULL AS {t.duckdb()}) AS {_ident(c)}"
                    for c, t in self.columns + self.partition_keys]
            return f"CREATE OR REPLACE VIEW {q} AS SELECT {', '.join(cols)} WHERE false"
        regex = self.path_regex(bucket, root)
        order = self.template_keys()
        select = []
        for column, kind in self.columns:
            path = "$." + '"' + self.json_keys[column].replace('"', '\\"') + '"'
            value = f"json_extract(j, {_sql_string(path)})"
            message = (f"format('{{}}: column {self.name}.{column} is declared {kind.text}, "
                       f"but the line has {{}}', f, CAST({value} AS VARCHAR))")
            select.append(f"CASE WHEN {kind.sql_fits(value)} THEN {kind.sql_value(value)} "
                          f"ELSE error({message}) END AS {_ident(column)}")
        for key, kind in self.partition_keys:
            select.append(f"CAST(p.{_ident(key)} AS {kind.duckdb()}) AS {_ident(key)}")
        checks = " AND ".join(self.projection_sql(k, f"p.{_ident(k)}") for k in names)
        return f"""CREATE OR REPLACE VIEW {q} AS
WITH lines AS (
  SELECT json AS j, filename AS f,
         regexp_extract(filename, {_sql_string(regex)}, [{', '.join(_sql_string(k) for k in order)}]) AS p
  FROM read_ndjson_objects({_sql_string(self.glob(bucket, root))}, filename = true,
                           hive_partitioning = false)
  WHERE regexp_full_match(filename, {_sql_string(regex)})
)
SELECT {(',' + chr(10) + '       ').join(select)}
FROM lines
WHERE {checks}"""
