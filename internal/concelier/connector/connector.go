// Package connector holds what every Concelier source connector shares: the fetch modes of the
// spec's `db fetch --mode`. The connectors live in its subpackages, one per source.
package connector

import (
	"fmt"
	"net/url"
)

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

// HostOf is the host of a source's base URL, the one host its HTTP client is allowed by default.
func HostOf(base string) (string, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" {
		return "", fmt.Errorf("base URL %q is not an http(s) URL", base)
	}
	return u.Hostname(), nil
}
