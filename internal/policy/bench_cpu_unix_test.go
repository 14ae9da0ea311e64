//go:build unix

package policy_test

import (
	"syscall"
	"time"
)

// processCPU is the CPU time this process has used. Benchmarks report it beside wall time
// because the build machines are shared: wall time measures the neighbours too.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
