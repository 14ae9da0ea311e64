package cli

import (
	"os"
	"runtime/pprof"
	"strings"
)

// StartCPUProfile starts profiling when --cpuprofile is among args (before cobra parses them, so
// that flag parsing and set-up are profiled too).
func StartCPUProfile(dst *string, args []string) (func(), error) {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "--cpuprofile="); ok {
			*dst = v
		} else if a == "--cpuprofile" && i+1 < len(args) {
			*dst = args[i+1]
		}
	}
	if *dst == "" {
		return func() {}, nil
	}
	f, err := os.Create(*dst)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
