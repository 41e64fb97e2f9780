//go:build !unix

package peers

import "time"

// cpuTime is unknown here: every run reports 0 CPU time.
func cpuTime() time.Duration { return 0 }
