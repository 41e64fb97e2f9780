package machine

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/perf/benchfmt"
)

func TestFormatSize(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{-1, "unknown"},
		{0, "unknown"},
		{64, "64 B"},
		{1023, "1023 B"},
		{1024, "1 KiB"},
		{48 * 1024, "48 KiB"},
		{1280 * 1024, "1.25 MiB"},
		{32 << 20, "32 MiB"},
		{16_000_000_000, "14.9 GiB"},
	} {
		if got := FormatSize(tc.n); got != tc.want {
			t.Errorf("FormatSize(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestLines(t *testing.T) {
	lines := Lines()
	got := map[string]string{}
	for i, l := range lines {
		if i >= len(Keys) || l.Key != Keys[i] {
			// Lines may omit commit only, so the prefix must match Keys.
			t.Fatalf("line %d key %q, want keys in order %v", i, l.Key, Keys)
		}
		if l.Value == "" {
			t.Errorf("%s: empty value", l.Key)
		}
		got[l.Key] = l.Value
	}
	if len(lines) < len(Keys)-1 {
		t.Fatalf("got %d lines, want at least %d", len(lines), len(Keys)-1)
	}
	if got["goos"] != runtime.GOOS || got["goarch"] != runtime.GOARCH || got["go"] != runtime.Version() {
		t.Errorf("runtime lines wrong: %v", got)
	}
}

// TestWriteParses checks the written lines are file configuration that
// benchfmt reads back, including values with spaces and an empty value.
func TestWriteParses(t *testing.T) {
	lines := []Line{
		{"goos", "linux"},
		{"cpu", "AMD EPYC 7B13  64-Core\tProcessor"},
		{"l3", ""},
		{"commit", "abc1234"},
	}
	var buf bytes.Buffer
	if err := Write(&buf, lines); err != nil {
		t.Fatal(err)
	}
	want := "goos: linux\ncpu: AMD EPYC 7B13 64-Core Processor\nl3: unknown\ncommit: abc1234\n"
	if buf.String() != want {
		t.Fatalf("Write:\n%s\nwant:\n%s", buf.String(), want)
	}
	buf.WriteString("BenchmarkX-2 10 100 ns/op\n")
	r := benchfmt.NewReader(&buf, "x")
	if !r.Scan() {
		t.Fatal("no record")
	}
	res, ok := r.Result().(*benchfmt.Result)
	if !ok {
		t.Fatalf("got %T", r.Result())
	}
	for _, l := range []Line{{"cpu", "AMD EPYC 7B13 64-Core Processor"}, {"l3", "unknown"}, {"commit", "abc1234"}} {
		if v := res.GetConfig(l.Key); v != l.Value {
			t.Errorf("config %s = %q, want %q", l.Key, v, l.Value)
		}
	}
	if strings.Contains(buf.String(), "\t") {
		t.Error("tab left in output")
	}
}

func TestProbeStallsCountsConsistently(t *testing.T) {
	s := ProbeStalls(20*time.Millisecond, 64)
	if s.Pages != 64 {
		t.Fatalf("Pages = %d, want 64", s.Pages)
	}
	if s.Over100 > s.Over20us {
		t.Fatalf("%d gaps over 100 µs but only %d over 20 µs", s.Over100, s.Over20us)
	}
	if s.Over20us > 0 && s.Max <= 20*time.Microsecond {
		t.Fatalf("%d gaps over 20 µs but the longest is %v", s.Over20us, s.Max)
	}
	if s.Over20us == 0 && s.Max != 0 {
		t.Fatalf("no gap over 20 µs but the longest is %v", s.Max)
	}
}

// BenchmarkHostStalls measures how often a thread that never blocks loses
// its processor for more than 20 µs and more than 100 µs, per second of
// probing (100 ms per iteration), while touching a working set of 1, 64,
// 1024 or 16384 distinct 4 KiB pages in turn. Latency percentiles measured
// on the same machine (migration downtime, halt latency) cannot be better
// than this noise allows; run it next to them. On bare metal the rate does
// not depend on the working set. Where it grows with it, the hypervisor
// takes part in the guest's page walks (shadow paging), and a code path
// that touches a few hundred pages, as a migration does, meets a stall far
// more often than pages=1 suggests.
func BenchmarkHostStalls(b *testing.B) {
	for _, pages := range []int{1, 64, 1024, 16384} {
		b.Run(fmt.Sprintf("pages=%d", pages), func(b *testing.B) {
			probe := NewStallProbe(pages)
			var total Stalls
			for b.Loop() {
				s := probe.Run(100 * time.Millisecond)
				total.Duration += s.Duration
				total.Over20us += s.Over20us
				total.Over100 += s.Over100
				total.Max = max(total.Max, s.Max)
			}
			b.ReportMetric(total.PerSecond(total.Over20us), "stalls>20us/s")
			b.ReportMetric(total.PerSecond(total.Over100), "stalls>100us/s")
			b.ReportMetric(float64(total.Max.Nanoseconds()), "max-stall-ns")
		})
	}
}
