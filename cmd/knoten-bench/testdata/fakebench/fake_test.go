// Package fakebench is a tiny benchmark package for knoten-bench's tests
// of the run and baseline commands. It lives under testdata so that
// ./... does not include it.
package fakebench

import "testing"

var sink int

func BenchmarkSum(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		s := 0
		for i := range 100 {
			s += i
		}
		sink = s
	}
}

func BenchmarkSize(b *testing.B) {
	for _, n := range []int{16, 256} {
		b.Run("n="+itoa(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			buf := make([]byte, n)
			for b.Loop() {
				for i := range buf {
					buf[i]++
				}
			}
		})
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var d []byte
	for ; n > 0; n /= 10 {
		d = append([]byte{byte('0' + n%10)}, d...)
	}
	return string(d)
}
