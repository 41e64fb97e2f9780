//go:build !linux

package engine

// discard is a no-op where the collector cannot hand pages back early; the
// Go collector frees the buffer in its own time.
func discard(b []byte) {}
