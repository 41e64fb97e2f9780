package machine

import (
	"bytes"
	"runtime"
	"strings"
	"testing"

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
