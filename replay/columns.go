package replay

import (
	"fmt"
	"slices"
	"strings"
)

// The trace fields a column mapping (Options.Columns) can name. A tag
// field is TagPrefix followed by the tag's name.
const (
	FieldTimestamp    = "timestamp"
	FieldInputTokens  = "input_tokens"
	FieldOutputTokens = "output_tokens"
	TagPrefix         = "tag:"
)

// ParseColumns parses a column mapping written as comma-separated
// field=column pairs, as in
//
//	timestamp=TIMESTAMP,input_tokens=ContextTokens,output_tokens=GeneratedTokens,tag:user=UserID
//
// Spaces around names are ignored. An empty string gives a nil map. Errors
// wrap ErrFormat and name the bad pair.
func ParseColumns(s string) (map[string]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	m := map[string]string{}
	for pair := range strings.SplitSeq(s, ",") {
		field, column, ok := strings.Cut(pair, "=")
		field, column = strings.TrimSpace(field), strings.TrimSpace(column)
		if !ok {
			return nil, fmt.Errorf("%w: columns: %q is not field=column", ErrFormat, strings.TrimSpace(pair))
		}
		if err := checkColumnField(field); err != nil {
			return nil, fmt.Errorf("%w: columns: %q: %v", ErrFormat, strings.TrimSpace(pair), err)
		}
		if column == "" {
			return nil, fmt.Errorf("%w: columns: %q: no column name", ErrFormat, strings.TrimSpace(pair))
		}
		if _, dup := m[field]; dup {
			return nil, fmt.Errorf("%w: columns: %q: field %s mapped twice", ErrFormat, strings.TrimSpace(pair), field)
		}
		m[field] = column
	}
	return m, nil
}

// ValidateColumns checks a column mapping built in code: known fields,
// non-empty column names. Errors wrap ErrFormat.
func ValidateColumns(m map[string]string) error {
	fields := make([]string, 0, len(m))
	for f := range m {
		fields = append(fields, f)
	}
	slices.Sort(fields)
	for _, f := range fields {
		if err := checkColumnField(f); err != nil {
			return fmt.Errorf("%w: columns: %s=%s: %v", ErrFormat, f, m[f], err)
		}
		if strings.TrimSpace(m[f]) == "" {
			return fmt.Errorf("%w: columns: %s: no column name", ErrFormat, f)
		}
	}
	return nil
}

func checkColumnField(f string) error {
	switch {
	case f == FieldTimestamp, f == FieldInputTokens, f == FieldOutputTokens:
		return nil
	case strings.HasPrefix(f, TagPrefix):
		if strings.TrimSpace(f[len(TagPrefix):]) == "" {
			return fmt.Errorf("tag field needs a name (tag:<name>)")
		}
		return nil
	case f == "":
		return fmt.Errorf("no field name")
	}
	return fmt.Errorf("unknown field %q (fields: %s, %s, %s, %s<name>)", f, FieldTimestamp, FieldInputTokens, FieldOutputTokens, TagPrefix)
}

// Timestamp formats (Options.TimeFormat). Epoch values and offsets may be
// integers or decimals; they are read exactly, to the nanosecond.
const (
	// TimeAuto detects the format from the first timestamp: a date-time
	// (RFC 3339 or "YYYY-MM-DD HH:MM:SS"), or a number whose magnitude
	// tells its unit: ≥ 1e17 ns, ≥ 1e14 µs, ≥ 1e11 ms, ≥ 1e8 s since the
	// Unix epoch, smaller numbers seconds from the start of the recording.
	TimeAuto = ""
	// TimeDateTime is RFC 3339 or "YYYY-MM-DD HH:MM:SS", each with an
	// optional fraction of up to 9 digits and an optional zone (Z, ±hh:mm,
	// ±hhmm); no zone means UTC.
	TimeDateTime = "datetime"
	// TimeRFC3339 is an alias of TimeDateTime.
	TimeRFC3339   = "rfc3339"
	TimeEpochS    = "epoch-s"
	TimeEpochMS   = "epoch-ms"
	TimeEpochUS   = "epoch-us"
	TimeEpochNS   = "epoch-ns"
	TimeOffsetS   = "offset-s"
	TimeOffsetMS  = "offset-ms"
	timeGoLayouts = "2006|01|02|15|04|05" // markers of a Go layout
)

// TimeFormats lists the named timestamp formats, for help texts.
var TimeFormats = []string{TimeDateTime, TimeRFC3339, TimeEpochS, TimeEpochMS, TimeEpochUS, TimeEpochNS, TimeOffsetS, TimeOffsetMS}

// CheckTimeFormat reports whether f is "" (auto), a named format or a Go
// time layout (it contains one of 2006, 01, 02, 15, 04, 05). Errors wrap
// ErrFormat.
func CheckTimeFormat(f string) error {
	if f == TimeAuto || slices.Contains(TimeFormats, f) || IsTimeLayout(f) {
		return nil
	}
	return fmt.Errorf("%w: unknown time format %q (formats: %s, or a Go layout such as 2006-01-02T15:04:05Z07:00)", ErrFormat, f, strings.Join(TimeFormats, ", "))
}

// IsTimeLayout reports whether f is not a named format but looks like a Go
// time layout.
func IsTimeLayout(f string) bool {
	if slices.Contains(TimeFormats, f) {
		return false
	}
	for m := range strings.SplitSeq(timeGoLayouts, "|") {
		if strings.Contains(f, m) {
			return true
		}
	}
	return false
}

// Preset is the layout of a known public trace, so that it reads with no
// column mapping.
type Preset struct {
	Name string
	// Format is the trace format the preset's files have.
	Format string
	// Columns maps the fields to the trace's columns, as Options.Columns.
	Columns map[string]string
	// TimeFormat is the timestamp format; "" detects it.
	TimeFormat string
	// About says where the trace comes from.
	About string
}

var presets = []Preset{
	{
		Name:   "azure-llm",
		Format: FormatCSV,
		Columns: map[string]string{
			FieldTimestamp: "TIMESTAMP", FieldInputTokens: "ContextTokens", FieldOutputTokens: "GeneratedTokens",
		},
		TimeFormat: TimeDateTime,
		About:      "Azure LLM inference traces 2023 and 2024 (Azure/AzurePublicDataset, AzureLLMInferenceTrace_*.csv)",
	},
	{
		Name:   "burstgpt",
		Format: FormatCSV,
		Columns: map[string]string{
			FieldTimestamp: "Timestamp", FieldInputTokens: "Request tokens", FieldOutputTokens: "Response tokens",
			TagPrefix + "model": "Model", TagPrefix + "log_type": "Log Type",
		},
		TimeFormat: TimeOffsetS,
		About:      "BurstGPT (HPMLL/BurstGPT, BurstGPT_*.csv): seconds from the start, model and log type as tags",
	},
	{
		Name:   "mooncake",
		Format: FormatJSONL,
		Columns: map[string]string{
			FieldTimestamp: "timestamp", FieldInputTokens: "input_length", FieldOutputTokens: "output_length",
		},
		TimeFormat: TimeOffsetMS,
		About:      "Mooncake traces (kvcache-ai/Mooncake, *_trace.jsonl): milliseconds from the start",
	},
}

// Presets lists the known trace layouts.
func Presets() []Preset {
	out := make([]Preset, len(presets))
	for i, p := range presets {
		p.Columns = cloneColumns(p.Columns)
		out[i] = p
	}
	return out
}

// LookupPreset returns the preset of that name.
func LookupPreset(name string) (Preset, bool) {
	for _, p := range presets {
		if p.Name == name {
			p.Columns = cloneColumns(p.Columns)
			return p, true
		}
	}
	return Preset{}, false
}

// DetectPreset returns the first preset of the format whose every column is
// among names (a CSV header, a JSONL object's fields).
func DetectPreset(format string, names []string) (Preset, bool) {
	for _, p := range presets {
		if p.Format != format {
			continue
		}
		all := true
		for _, c := range p.Columns {
			if !slices.Contains(names, c) {
				all = false
				break
			}
		}
		if all {
			p.Columns = cloneColumns(p.Columns)
			return p, true
		}
	}
	return Preset{}, false
}

func presetNames() []string {
	var n []string
	for _, p := range presets {
		n = append(n, p.Name)
	}
	return n
}

func cloneColumns(m map[string]string) map[string]string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
