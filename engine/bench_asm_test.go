package engine

import "testing"

func benchProgram(b *testing.B, p *Program, want string) {
	b.ReportAllocs()
	for b.Loop() {
		iso, _ := New(p, Limits{})
		iso.Run(1 << 62)
		if iso.Result() != want {
			b.Fatalf("got %s", iso.Result())
		}
	}
}

func BenchmarkAsmFib30(b *testing.B)   { benchProgram(b, fibProgram(b, 30), "832040") }
func BenchmarkAsmLoop10M(b *testing.B) { benchProgram(b, loopProgram(b, 10_000_000), "990548") }
