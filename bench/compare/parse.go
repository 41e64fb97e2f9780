// Package compare reads Go benchmark result files and decides, with the
// statistics benchstat uses, whether a new run is slower than a baseline.
//
// Parsing uses golang.org/x/perf/benchfmt, so `key: value` configuration
// lines (the machine lines of bench/machine, and the goos/goarch/pkg/cpu
// lines of `go test`) are file configuration, and units are tidied the way
// benchstat tidies them: ns/op becomes sec/op and MB/s becomes B/s.
//
// Comparison groups results by package, full benchmark name (sub-benchmarks
// and the -GOMAXPROCS suffix included) and unit. It deliberately ignores
// every other configuration key, so a baseline from another commit, Go
// version or machine still pairs up; differing machine lines are reported
// as notes instead. For each pair it computes, with
// golang.org/x/perf/benchmath and the unit's assumption (AssumeNothing
// unless a "Unit ... assume=exact" line says otherwise), the median and its
// confidence interval on each side and a Mann-Whitney U test between them.
//
// A row is a regression when the test is significant (p < Alpha), the
// two medians' confidence intervals do not overlap, and the new median is
// worse than the old one by more than Threshold percent in the unit's bad
// direction: higher is worse for sec/op, B/op, allocs/op
// and other per-op units of time; lower is worse for throughput units
// (B/s, any unit ending in "/s"). "Unit U better=higher|lower" metadata
// lines override these defaults. Units whose direction is unknown are
// shown but never counted as regressions.
//
// Results from two different machines (see IdentityKeys and SameMachine)
// are compared and shown all the same, but nothing is a regression then:
// a difference across machines measures the machines. Report.Summary
// says so in one line that names both.
package compare

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/perf/benchfmt"
)

// Config is one distinct file-level configuration pair.
type Config struct {
	Key, Value string
}

// Series is every measurement of one benchmark in one unit in one file.
type Series struct {
	// Pkg is the "pkg:" configuration in force for the results, or "".
	Pkg string
	// Name is the full benchmark name without the "Benchmark" prefix,
	// including sub-benchmark parts and the -GOMAXPROCS suffix, e.g.
	// "Codec/heap=4KiB-2".
	Name string
	// Unit is the tidied unit ("sec/op", "B/s", "B/op", "allocs/op", ...).
	Unit string
	// Values holds the measurements in tidied units, in file order.
	Values []float64
}

// Set is the parsed content of one result file.
type Set struct {
	// Label names the set in tables (usually the file name).
	Label string
	// Config lists the distinct file configuration pairs attached to
	// results, in the order first seen. A key such as "pkg" can appear
	// once per value.
	Config []Config
	// Series lists the series in the order first seen.
	Series []*Series
	// Units is the unit metadata ("Unit ..." lines).
	Units benchfmt.UnitMetadataMap
	// Errors lists non-fatal syntax errors as "file:line: message".
	Errors []string

	index map[seriesKey]*Series
}

type seriesKey struct{ pkg, name, unit string }

// Parse reads Go benchmark format from r. label names the set and is used
// as the file name in syntax errors. Syntax errors do not stop parsing;
// they are collected in Set.Errors. Only an I/O error is returned.
func Parse(r io.Reader, label string) (*Set, error) {
	s := &Set{Label: label, Units: benchfmt.UnitMetadataMap{}, index: map[seriesKey]*Series{}}
	seen := map[Config]bool{}
	br := benchfmt.NewReader(r, label)
	for br.Scan() {
		switch rec := br.Result().(type) {
		case *benchfmt.SyntaxError:
			s.Errors = append(s.Errors, rec.Error())
		case *benchfmt.UnitMetadata:
			s.Units[rec.UnitMetadataKey] = rec
		case *benchfmt.Result:
			for _, c := range rec.Config {
				if !c.File {
					continue
				}
				// go test pads its cpu line with spaces; the same machine
				// must read the same however the line was written.
				kv := Config{c.Key, strings.TrimSpace(string(c.Value))}
				if !seen[kv] {
					seen[kv] = true
					s.Config = append(s.Config, kv)
				}
			}
			pkg := rec.GetConfig("pkg")
			name := rec.Name.String()
			for _, v := range rec.Values {
				k := seriesKey{pkg, name, v.Unit}
				ser := s.index[k]
				if ser == nil {
					ser = &Series{Pkg: pkg, Name: name, Unit: v.Unit}
					s.index[k] = ser
					s.Series = append(s.Series, ser)
				}
				ser.Values = append(ser.Values, v.Value)
			}
		}
	}
	if err := br.Err(); err != nil {
		return nil, err
	}
	return s, nil
}

// ParseFile parses the named file; the set's label is the path as given.
func ParseFile(path string) (*Set, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(f, path)
}

// ErrNoBenchmarks is the error Load returns for input that holds no
// benchmark result: comparing or plotting it would only prove nothing.
var ErrNoBenchmarks = errors.New("holds no benchmark results")

// Load is ParseFile for a file that must hold benchmark results: a file
// without any (a README, an empty run) is an error naming the file and
// wrapping ErrNoBenchmarks.
func Load(path string) (*Set, error) {
	s, err := ParseFile(path)
	if err != nil {
		return nil, err
	}
	if len(s.Series) == 0 {
		err := fmt.Errorf("%s %w: not Go benchmark format (lines like \"BenchmarkName-2  100  12.5 ns/op\")", path, ErrNoBenchmarks)
		if len(s.Errors) > 0 {
			err = fmt.Errorf("%w; first syntax error: %s", err, s.Errors[0])
		}
		return nil, err
	}
	return s, nil
}

// Lookup returns the series for a package, full name and tidied unit, or nil.
func (s *Set) Lookup(pkg, name, unit string) *Series {
	if s.index == nil {
		s.index = map[seriesKey]*Series{}
		for _, ser := range s.Series {
			s.index[seriesKey{ser.Pkg, ser.Name, ser.Unit}] = ser
		}
	}
	return s.index[seriesKey{pkg, name, unit}]
}

// Get returns the first value seen for a configuration key, or "".
func (s *Set) Get(key string) string {
	for _, c := range s.Config {
		if c.Key == key {
			return c.Value
		}
	}
	return ""
}

// Dump writes a plain-text description of the set, one fact a line, for
// golden tests and debugging.
func (s *Set) Dump(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "label: %s\n", filepath.ToSlash(s.Label))
	b.WriteString("config:\n")
	for _, c := range s.Config {
		fmt.Fprintf(&b, "\t%s: %s\n", c.Key, c.Value)
	}
	b.WriteString("units:\n")
	for _, k := range sortedUnitKeys(s.Units) {
		fmt.Fprintf(&b, "\t%s %s=%s\n", k.Unit, k.Key, s.Units[k].Value)
	}
	b.WriteString("errors:\n")
	for _, e := range s.Errors {
		fmt.Fprintf(&b, "\t%s\n", e)
	}
	b.WriteString("series:\n")
	for _, ser := range s.Series {
		fmt.Fprintf(&b, "\tpkg=%q name=%q unit=%q n=%d values=[", ser.Pkg, ser.Name, ser.Unit, len(ser.Values))
		for i, v := range ser.Values {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(strconv.FormatFloat(v, 'g', 6, 64))
		}
		b.WriteString("]\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
