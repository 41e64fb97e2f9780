package peers

import (
	"fmt"
	"strconv"

	lua "github.com/yuin/gopher-lua"
)

// prepareLua loads the Lua workloads into one gopher-lua state; each run
// calls the workload's function.
func prepareLua(w string, n int) (Runner, error) {
	if !known(w) {
		return nil, fmt.Errorf("unknown workload %q", w)
	}
	L := lua.NewState()
	if err := L.DoString(script(luaSrc)); err != nil {
		L.Close()
		return nil, fmt.Errorf("gopher-lua: %w", err)
	}
	fn := L.GetField(L.GetGlobal("RUN"), w)
	if fn.Type() != lua.LTFunction {
		L.Close()
		return nil, fmt.Errorf("gopher-lua: no function %s", w)
	}
	run := func() (string, error) {
		if err := L.CallByParam(lua.P{Fn: fn, NRet: 1, Protect: true}, lua.LNumber(n)); err != nil {
			return "", err
		}
		ret := L.Get(-1)
		L.Pop(1)
		num, ok := ret.(lua.LNumber)
		if !ok {
			return "", fmt.Errorf("gopher-lua: result %v is a %s", ret, ret.Type())
		}
		if w == NBody {
			return energyResult(float64(num)), nil
		}
		return strconv.FormatFloat(float64(num), 'g', -1, 64), nil
	}
	return canonRunner(w, run, func() error { L.Close(); return nil }), nil
}

func known(w string) bool {
	for _, k := range Workloads {
		if k == w {
			return true
		}
	}
	return false
}
