package replay

// FormatReader returns the format's reader inside a reader Open returned,
// for tests that check which format Open chose.
func FormatReader(r Reader) Reader {
	if tr, ok := r.(*traceReader); ok {
		return tr.Reader
	}
	return r
}
