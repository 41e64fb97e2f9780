// Package machine describes the machine a benchmark ran on as Go benchmark
// format configuration lines ("key: value"), which benchfmt and benchstat
// read as file-level configuration.
//
// The keys, in the order Lines returns them:
//
//	goos:      runtime.GOOS
//	goarch:    runtime.GOARCH
//	cpu:       CPU model name (gopsutil), else cpuid's brand name
//	cores:     "P physical, L logical" (gopsutil), 0 when undetectable
//	cacheline: cache line size (cpuid), "unknown" when cpuid reports <= 0
//	l1d:       L1 data cache size (cpuid), "unknown" when <= 0
//	l2:        L2 cache size (cpuid), "unknown" when <= 0
//	l3:        L3 cache size (cpuid), "unknown" when <= 0
//	mem:       total physical memory (gopsutil), "unknown" on error
//	go:        runtime.Version()
//	commit:    `git rev-parse --short HEAD`, with "-dirty" when the work
//	           tree has changes; omitted when git or the repository is
//	           unavailable
//
// `go test -bench` prints goos, goarch and cpu itself for each package;
// benchfmt lets a later line override an earlier one, and both describe
// the same machine.
package machine

import (
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"strconv"
	"strings"

	"github.com/klauspost/cpuid/v2"
	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/mem"
)

// Line is one configuration line, written as "Key: Value".
type Line struct {
	Key, Value string
}

// Unknown is the value printed for a property that cannot be detected.
const Unknown = "unknown"

// Keys lists the keys Lines can return, in order. Tools that compare
// results from different runs ignore them when grouping (see
// bench/compare).
var Keys = []string{"goos", "goarch", "cpu", "cores", "cacheline", "l1d", "l2", "l3", "mem", "go", "commit"}

// Lines describes this machine. The commit line is taken from the git
// repository containing the current directory.
func Lines() []Line {
	return LinesIn("")
}

// LinesIn is Lines with the commit taken from the git repository
// containing dir ("" means the current directory).
func LinesIn(dir string) []Line {
	lines := []Line{
		{"goos", runtime.GOOS},
		{"goarch", runtime.GOARCH},
		{"cpu", cpuModel()},
		{"cores", cores()},
		{"cacheline", FormatSize(int64(cpuid.CPU.CacheLine))},
		{"l1d", FormatSize(int64(cpuid.CPU.Cache.L1D))},
		{"l2", FormatSize(int64(cpuid.CPU.Cache.L2))},
		{"l3", FormatSize(int64(cpuid.CPU.Cache.L3))},
		{"mem", memTotal()},
		{"go", runtime.Version()},
	}
	if c, dirty, err := Commit(dir); err == nil {
		if dirty {
			c += "-dirty"
		}
		lines = append(lines, Line{"commit", c})
	}
	return lines
}

// Write writes lines as "key: value" lines. Values are reduced to one line
// so the output stays valid benchmark format.
func Write(w io.Writer, lines []Line) error {
	var b bytes.Buffer
	for _, l := range lines {
		v := strings.Join(strings.Fields(l.Value), " ")
		if v == "" {
			v = Unknown
		}
		fmt.Fprintf(&b, "%s: %s\n", l.Key, v)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// WriteLines writes Lines() to w.
func WriteLines(w io.Writer) error {
	return Write(w, Lines())
}

// Commit returns the short hash of HEAD of the git repository containing
// dir ("" means the current directory) and whether the work tree has
// uncommitted changes.
func Commit(dir string) (short string, dirty bool, err error) {
	cmd := exec.Command("git", "rev-parse", "--short", "HEAD")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "", false, fmt.Errorf("git rev-parse: %w", err)
	}
	short = strings.TrimSpace(string(out))
	st := exec.Command("git", "status", "--porcelain", "--untracked-files=no")
	st.Dir = dir
	if out, err := st.Output(); err == nil && len(bytes.TrimSpace(out)) > 0 {
		dirty = true
	}
	return short, dirty, nil
}

// FormatSize formats a byte count with IEC units ("64 B", "48 KiB",
// "1.25 MiB"). Sizes <= 0 are "unknown", as cpuid reports 0 or -1 for an
// undetected cache.
func FormatSize(n int64) string {
	if n <= 0 {
		return Unknown
	}
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	v := float64(n)
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	s := strconv.FormatFloat(v, 'f', 2, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s + " " + units[i]
}

func cpuModel() string {
	if infos, err := cpu.Info(); err == nil {
		for _, in := range infos {
			if m := strings.TrimSpace(in.ModelName); m != "" {
				return m
			}
		}
	}
	if m := strings.TrimSpace(cpuid.CPU.BrandName); m != "" {
		return m
	}
	return Unknown
}

func cores() string {
	phys, err := cpu.Counts(false)
	if err != nil {
		phys = 0
	}
	logical, err := cpu.Counts(true)
	if err != nil || logical <= 0 {
		logical = runtime.NumCPU()
	}
	return fmt.Sprintf("%d physical, %d logical", phys, logical)
}

func memTotal() string {
	vm, err := mem.VirtualMemory()
	if err != nil || vm.Total == 0 {
		return Unknown
	}
	return FormatSize(int64(vm.Total))
}
