package storetest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"

	"github.com/stellaops/stellaops/internal/tlog"
)

// Environment of a helper process started by MultiProcess.
const (
	envLocation = "STELLAOPS_TLOG_HELPER_LOCATION"
	envWorker   = "STELLAOPS_TLOG_HELPER_WORKER"
)

// processAppends is how many entries each helper process appends (a few of them shared by all).
const processAppends = 40

// ProcessHelper must be the first call of the backend's multi-process test. In a helper process
// started by MultiProcess it appends its entries to the location it was given and returns true
// (the test then returns); otherwise it returns false.
func ProcessHelper(t *testing.T, open func(tb testing.TB, location string) tlog.Store) bool {
	loc := os.Getenv(envLocation)
	if loc == "" {
		return false
	}
	w, err := strconv.Atoi(os.Getenv(envWorker))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{clock: newBenchClock()}
	l := e.newLog(t, open(t, loc))
	ctx := context.Background()
	for i := range processAppends {
		b := body(1000*w + i)
		if i%10 == 0 {
			b = body(i) // the same bodies from every process: stored once
		}
		if _, err := l.Append(ctx, b); err != nil {
			t.Fatalf("worker %d append %d: %v", w, i, err)
		}
	}
	return true
}

// MultiProcess runs n copies of the test binary (the test helperTest, which must start with
// ProcessHelper) appending to location at the same time, then checks the log is dense, holds
// each body once and has the reference root.
func MultiProcess(t *testing.T, helperTest, location string, open func(tb testing.TB, location string) tlog.Store, n int) {
	var wg sync.WaitGroup
	errs := make([]error, n)
	out := make([][]byte, n)
	for w := range n {
		cmd := exec.Command(os.Args[0], "-test.run=^"+helperTest+"$", "-test.count=1")
		cmd.Env = append(os.Environ(), envLocation+"="+location, envWorker+"="+strconv.Itoa(w+1))
		wg.Go(func() { out[w], errs[w] = cmd.CombinedOutput() })
	}
	wg.Wait()
	for w, err := range errs {
		if err != nil {
			t.Fatalf("helper process %d: %v\n%s", w+1, err, out[w])
		}
	}
	e := &env{clock: newBenchClock()}
	l := e.newLog(t, open(t, location))
	shared := processAppends / 10
	checkDense(t, l, n*(processAppends-shared)+shared)
	for i := 0; i < processAppends; i += 10 {
		if _, err := l.Entry(context.Background(), tlog.EntryID(body(i))); err != nil {
			t.Error(fmt.Errorf("shared body %d: %w", i, err))
		}
	}
}
