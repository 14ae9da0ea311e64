package osrelease

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/stellaops/stellaops/internal/analyzer"
	"github.com/stellaops/stellaops/internal/inventory"
)

// parseOSRelease reads the os-release format (os-release(5)): KEY=value lines, values optionally
// in double quotes (with \" \\ \$ \` escapes) or single quotes, comments starting with '#'. It
// takes ID (lower-cased), VERSION_ID, VERSION_CODENAME (UBUNTU_CODENAME before 17.10; for old
// Debian, the word in parentheses of VERSION) and PRETTY_NAME. Without an ID it names no distro.
func parseOSRelease(data []byte) inventory.Distro {
	var d inventory.Distro
	var version, ubuntuCodename string
	for len(data) > 0 {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		key, value, ok := bytes.Cut(line, []byte{'='})
		if !ok {
			continue
		}
		switch string(bytes.TrimSpace(key)) {
		case "ID":
			d.ID = strings.ToLower(unquote(value))
		case "VERSION_ID":
			d.VersionID = unquote(value)
		case "VERSION_CODENAME":
			d.Codename = unquote(value)
		case "UBUNTU_CODENAME":
			ubuntuCodename = unquote(value)
		case "PRETTY_NAME":
			d.PrettyName = unquote(value)
		case "VERSION":
			version = unquote(value)
		}
	}
	if d.Codename == "" {
		d.Codename = ubuntuCodename
	}
	if d.Codename == "" && d.ID == "debian" {
		// Debian before 9 has no VERSION_CODENAME: VERSION="8 (jessie)".
		if _, rest, ok := strings.Cut(version, "("); ok {
			if name, _, ok := strings.Cut(rest, ")"); ok && isWord(name) {
				d.Codename = strings.ToLower(name)
			}
		}
	}
	if strings.ContainsFunc(d.ID, func(r rune) bool { return !isIDRune(r) }) {
		return inventory.Distro{} // os-release(5): ID is lower-case letters, digits, "._-"
	}
	return d
}

// unquote returns a shell-like value: double-quoted with backslash escapes, single-quoted
// literally, or bare. An unterminated quote runs to the end of the line. Control characters
// (a stray CR, escapes) are dropped, so the value is safe to print.
func unquote(v []byte) string {
	v = bytes.TrimSpace(v)
	var b strings.Builder
	switch {
	case len(v) > 0 && v[0] == '"':
		v = v[1:]
		for i := 0; i < len(v); i++ {
			c := v[i]
			if c == '"' {
				break
			}
			if c == '\\' && i+1 < len(v) && strings.IndexByte("\"\\$`", v[i+1]) >= 0 {
				i++
				c = v[i]
			}
			b.WriteByte(c)
		}
	case len(v) > 0 && v[0] == '\'':
		v = v[1:]
		if i := bytes.IndexByte(v, '\''); i >= 0 {
			v = v[:i]
		}
		b.Write(v)
	default:
		b.Write(v)
	}
	return printable(b.String())
}

// printable drops control characters and invalid UTF-8 and trims surrounding spaces.
func printable(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r == utf8.RuneError || unicode.IsControl(r) }) {
		return strings.TrimSpace(s)
	}
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if r == utf8.RuneError || unicode.IsControl(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "")))
}

// parseDebianVersion reads etc/debian_version: a point release ("12.11") on stable, or
// "codename/sid" on testing and unstable, where only the codename is known.
func parseDebianVersion(data []byte) inventory.Distro {
	w := firstWord(data)
	switch {
	case w == "":
		return inventory.Distro{}
	case w[0] >= '0' && w[0] <= '9':
		return inventory.Distro{ID: "debian", VersionID: w}
	}
	name, _, _ := strings.Cut(w, "/")
	if !isWord(name) {
		return inventory.Distro{}
	}
	return inventory.Distro{ID: "debian", Codename: strings.ToLower(name)}
}

// firstWord returns the first whitespace-separated word of the first line, printable only.
func firstWord(data []byte) string {
	line, _, _ := bytes.Cut(data, []byte{'\n'})
	f := bytes.Fields(line)
	if len(f) == 0 {
		return ""
	}
	return printable(string(f[0]))
}

func isWord(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '-' && r != '_'
	})
}

func isIDRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
}

// readAll returns the whole file, refusing one over max bytes (max <= 0: no limit).
func readAll(in *analyzer.Input, max int64) ([]byte, error) {
	if in == nil || in.Content == nil {
		return nil, errors.New("no content")
	}
	size := in.Content.Size()
	if max > 0 && size > max {
		return nil, fmt.Errorf("%s is %d bytes, over the %d-byte limit", in.Path, size, max)
	}
	data := make([]byte, size)
	if n, err := in.Content.ReadAt(data, 0); n != len(data) {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("read %s: %w", in.Path, err)
	}
	return data, nil
}
