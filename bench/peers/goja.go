package peers

import (
	"fmt"
	"strconv"

	"github.com/dop251/goja"
)

// prepareGoja compiles the JavaScript workloads once into one goja
// runtime; each run calls the workload's function.
func prepareGoja(w string, n int) (Runner, error) {
	if !known(w) {
		return nil, fmt.Errorf("unknown workload %q", w)
	}
	prog, err := goja.Compile("workloads.js", script(jsSrc), true)
	if err != nil {
		return nil, fmt.Errorf("goja: %w", err)
	}
	vm := goja.New()
	if _, err := vm.RunProgram(prog); err != nil {
		return nil, fmt.Errorf("goja: %w", err)
	}
	fn, ok := goja.AssertFunction(vm.Get("RUN").ToObject(vm).Get(w))
	if !ok {
		return nil, fmt.Errorf("goja: no function %s", w)
	}
	arg := vm.ToValue(n)
	run := func() (string, error) {
		v, err := fn(goja.Undefined(), arg)
		if err != nil {
			return "", err
		}
		if w == NBody {
			return energyResult(v.ToFloat()), nil
		}
		return strconv.FormatFloat(v.ToFloat(), 'g', -1, 64), nil
	}
	return canonRunner(w, run, nil), nil
}
