// Package connector holds what every Concelier source connector shares: the fetch modes of the
// spec's `db fetch --mode`. The connectors live in its subpackages, one per source.
package connector

import "fmt"

// Mode is how a fetch treats its source's cursor.
type Mode string

// Modes, as `db fetch --mode` names them.
const (
	// ModeInit ignores the cursor: everything is fetched again.
	ModeInit Mode = "init"
	// ModeResume fetches nothing new; parse and map go on with what is pending.
	ModeResume Mode = "resume"
	// ModeCursor fetches only what changed since the cursor (conditional requests, windows).
	ModeCursor Mode = "cursor"
)

// ParseMode checks a mode name; empty means cursor.
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case "":
		return ModeCursor, nil
	case ModeInit, ModeResume, ModeCursor:
		return Mode(s), nil
	}
	return "", fmt.Errorf("unknown mode %q (want init, resume or cursor)", s)
}
