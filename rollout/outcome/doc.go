// Package outcome reads outcome files — business outcomes of users in an
// experiment (a purchase, a rating, revenue), usually exported from a
// warehouse later than the responses they follow — and imports them in
// batches.
//
// Two formats, read streaming (one line or record at a time, never the
// whole file):
//
//   - NDJSON: one JSON object a line,
//     {"id": "e1", "user": "u123", "metric": "purchase", "value": 1, "time": "2026-12-01T10:00:00Z"}.
//     user and metric are non-empty strings, value a finite JSON number;
//     id (a string, the event's idempotency key) and time (RFC 3339) are
//     optional, null meaning absent. Blank lines are skipped; any other
//     key is an error.
//   - CSV: a header row naming the columns, in any order, of id, user,
//     metric, value and time (id and time optional), then one event a
//     record. Fields are trimmed of surrounding spaces; an empty id or
//     time is absent. The value is a decimal number ("1", "12.5", "1e3");
//     NaN and infinities are errors.
//
// An event without a time happened "now": the time given to the reader,
// or when it started reading (one instant for the whole file, so that the
// events of one import share it). Times must lie within the range the
// store keeps (years 1678 to 2262).
//
// Bad input is an *input.Error "file:line: field: message" (matched by
// input.ErrInput: the CLI exits 2), for the first bad line.
//
// Import stores what it reads in batches. A file that can seek (a regular
// file) is read twice: validated whole first, so that a bad line stores
// nothing of the file, then stored. A stream that cannot (stdin, a pipe,
// a request body) is validated while it is stored: the events before a
// bad line are stored, and the error says how many; events with an id
// are idempotent, so re-importing the corrected stream counts them once,
// while events without an id would be counted again.
package outcome
