package codec_test

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/zeebo/blake3"

	"github.com/knotencore/knoten/codec"
	"github.com/knotencore/knoten/codec/codectest"
	"github.com/knotencore/knoten/engine"
)

var benchHeaps = []struct {
	name  string
	bytes int
}{{"4KiB", 4 << 10}, {"64KiB", 64 << 10}, {"1MiB", 1 << 20}, {"16MiB", 16 << 20}}

func benchState(b *testing.B, heap int) *engine.State {
	st := codectest.BigState(heap, 7)
	if len(st.Heap) != heap {
		b.Fatalf("BUG: heap of %d bytes, want %d", len(st.Heap), heap)
	}
	return st
}

// BenchmarkCodec measures the codec per operation, heap size and hashing.
// MB/s count the encoded size.
//
//	op=encode     AppendEncode into a reused buffer; hash=off supplies the
//	              state hash (AppendEncodeSum), hash=on computes it
//	op=encodev    EncodeBuffers: header only, the sections are referenced
//	op=decode     DecodeInto a reused State from a reused buffer; hash=on
//	              verifies the trailer, hash=off skips it (engine.CheckState
//	              runs either way)
//	op=roundtrip  encode then decode. hash=off hashes on neither side,
//	              hash=verify only on the receiving side (the sender supplies
//	              the hash it holds: one BLAKE3 pass), hash=on on both
//	              (the sender computes, the receiver verifies: two passes)
func BenchmarkCodec(b *testing.B) {
	m := codec.Meta{Isolate: 1, Epoch: 2}
	for _, op := range []string{"encode", "encodev", "decode", "roundtrip"} {
		hashes := []string{"off", "on"}
		if op == "roundtrip" {
			hashes = []string{"off", "verify", "on"}
		}
		for _, h := range benchHeaps {
			for _, hash := range hashes {
				b.Run(fmt.Sprintf("op=%s/heap=%s/hash=%s", op, h.name, hash), func(b *testing.B) {
					st := benchState(b, h.bytes)
					sum := st.Hash()
					on := hash == "on"
					// A receiver reuses its checker, as a cluster node does.
					opts := codec.DecodeOptions{SkipVerify: hash == "off", Checker: new(engine.StateChecker)}
					buf := codec.AppendEncode(make([]byte, 0, codec.EncodedSize(st)), m, st)
					var into engine.State
					encode := func() {
						if on {
							buf = codec.AppendEncode(buf[:0], m, st)
						} else {
							buf = codec.AppendEncodeSum(buf[:0], m, st, &sum)
						}
					}
					decode := func() {
						if _, err := opts.DecodeInto(&into, buf, resolve); err != nil {
							b.Fatal(err)
						}
					}
					bufs, scratch := codec.EncodeBuffers(nil, nil, m, st)
					b.SetBytes(int64(len(buf)))
					b.ReportAllocs()
					b.ResetTimer()
					for b.Loop() {
						switch op {
						case "encode":
							encode()
						case "encodev":
							if on {
								bufs, scratch = codec.EncodeBuffers(bufs, scratch, m, st)
							} else {
								bufs, scratch = codec.EncodeBuffersSum(bufs, scratch, m, st, &sum)
							}
						case "decode":
							decode()
						case "roundtrip":
							encode()
							decode()
						}
					}
				})
			}
		}
	}
}

// peerMsg is what the peer codecs carry: the same meta and state.
type peerMsg struct {
	Isolate, Epoch uint64
	State          engine.State
}

// BenchmarkPeerCodec is a round trip (encode, then decode into a fresh
// value) of the same states through general-purpose serializers.
func BenchmarkPeerCodec(b *testing.B) {
	impls := []struct {
		name string
		rt   func(b *testing.B, in *peerMsg, w *bytes.Buffer) int
	}{
		{"gob", func(b *testing.B, in *peerMsg, w *bytes.Buffer) int {
			w.Reset()
			if err := gob.NewEncoder(w).Encode(in); err != nil {
				b.Fatal(err)
			}
			n := w.Len()
			var out peerMsg
			if err := gob.NewDecoder(w).Decode(&out); err != nil {
				b.Fatal(err)
			}
			return n
		}},
		{"msgpack", func(b *testing.B, in *peerMsg, w *bytes.Buffer) int {
			w.Reset()
			if err := msgpack.NewEncoder(w).Encode(in); err != nil {
				b.Fatal(err)
			}
			n := w.Len()
			var out peerMsg
			if err := msgpack.Unmarshal(w.Bytes(), &out); err != nil {
				b.Fatal(err)
			}
			return n
		}},
	}
	for _, impl := range impls {
		for _, h := range benchHeaps {
			b.Run(fmt.Sprintf("impl=%s/heap=%s", impl.name, h.name), func(b *testing.B) {
				in := &peerMsg{Isolate: 1, Epoch: 2, State: *benchState(b, h.bytes)}
				var w bytes.Buffer
				// MB/s count our encoding's size, so that figures compare
				// like for like with BenchmarkCodec.
				b.SetBytes(int64(codec.EncodedSize(&in.State)))
				b.ReportAllocs()
				for b.Loop() {
					impl.rt(b, in, &w)
				}
			})
		}
	}
}

// BenchmarkReference measures the floors the codec is compared against, in
// the same run: a plain copy of the encoded size, and BLAKE3 over it.
func BenchmarkReference(b *testing.B) {
	for _, h := range benchHeaps {
		st := benchState(b, h.bytes)
		n := codec.EncodedSize(st)
		// src holds data: untouched zero pages would all map the same
		// physical page and make the copy look cache-hot.
		src, dst := codec.AppendEncode(nil, codec.Meta{}, st), make([]byte, n)
		b.Run("op=memcpy/heap="+h.name, func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				copy(dst, src)
			}
		})
		b.Run("op=blake3/heap="+h.name, func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				blake3.Sum256(src)
			}
		})
		b.Run("op=statehash/heap="+h.name, func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				st.Hash()
			}
		})
	}
}
