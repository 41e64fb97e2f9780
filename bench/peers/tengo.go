package peers

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/d5/tengo/v2"
	"github.com/d5/tengo/v2/stdlib"
)

// prepareTengo compiles a tengo script that ends with "out := W(n)"; each
// run runs the compiled script (defining the functions is a handful of
// instructions) and reads out.
func prepareTengo(w string, n int) (Runner, error) {
	if !known(w) {
		return nil, fmt.Errorf("unknown workload %q", w)
	}
	s := tengo.NewScript([]byte(strings.ReplaceAll(script(tengoSrc), "@W@", w)))
	s.SetImports(stdlib.GetModuleMap("math", "text"))
	if err := s.Add("n", n); err != nil {
		return nil, err
	}
	c, err := s.Compile()
	if err != nil {
		return nil, fmt.Errorf("tengo: %w", err)
	}
	run := func() (string, error) {
		if err := c.Run(); err != nil {
			return "", err
		}
		switch v := c.Get("out").Value().(type) {
		case int64:
			return strconv.FormatInt(v, 10), nil
		case float64:
			if w == NBody {
				return energyResult(v), nil
			}
			return strconv.FormatFloat(v, 'g', -1, 64), nil
		default:
			return "", fmt.Errorf("tengo: result %v is a %T", v, v)
		}
	}
	return canonRunner(w, run, nil), nil
}
