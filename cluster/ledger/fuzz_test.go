package ledger

import (
	"bytes"
	"testing"
)

// FuzzDecodeEntry: the decoder never panics, accepts only 16-byte values
// in the format, and what it accepts encodes back to the same bytes.
// Seeds in testdata/fuzz/FuzzDecodeEntry.
func FuzzDecodeEntry(f *testing.F) {
	f.Add(appendEntry(nil, Entry{Owner: 3, Epoch: 7, State: Running}))
	f.Add(appendEntry(nil, Entry{Owner: 1, Epoch: 1 << 40, State: Finished}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeEntry(b)
		if err != nil {
			return
		}
		if len(b) != entrySize {
			t.Fatalf("accepted %d bytes", len(b))
		}
		if again := appendEntry(nil, e); !bytes.Equal(again, b) {
			t.Fatalf("%x decodes to %v, which encodes to %x", b, e, again)
		}
		if c, err := decodeCounter(b); err == nil {
			t.Fatalf("%x is both an entry and counter %d", b, c)
		}
	})
}

// FuzzDecodeCounter: the same for an id counter.
func FuzzDecodeCounter(f *testing.F) {
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0, 0, 0, 0, 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := decodeCounter(b)
		if err != nil {
			return
		}
		if len(b) != counterSize || v < 1 || v > maxNext {
			t.Fatalf("accepted %x as %d", b, v)
		}
	})
}
