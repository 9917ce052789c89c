package tracefmt

import (
	"bytes"
	"encoding/json"
	"errors"
)

// Scalar returns the text of a JSON string or number; ok is false for null.
// Objects, arrays and booleans are errors.
func Scalar(raw json.RawMessage) (s string, ok bool, err error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return "", false, nil
	case raw[0] == '"':
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", false, errors.New("bad string")
		}
		return s, true, nil
	case raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9':
		return string(raw), true, nil
	}
	return "", false, errors.New("not a number or a string")
}

// Text returns the text of a JSON scalar as a tag value: strings unquoted,
// numbers and booleans as written; ok is false for null. Objects and arrays
// are errors.
func Text(raw json.RawMessage) (string, bool, error) {
	raw = bytes.TrimSpace(raw)
	if string(raw) == "true" || string(raw) == "false" {
		return string(raw), true, nil
	}
	return Scalar(raw)
}
