package java

import (
	"bufio"
	"bytes"
	"strings"
)

// parseManifest reads the main section of a JAR manifest: "Name: value" lines up to the first
// empty line, where a line starting with one space continues the previous value (lines are
// wrapped at 72 bytes, so the space is dropped and the rest joined as is).
func parseManifest(b []byte) map[string]string {
	out := map[string]string{}
	var key string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			if len(out) > 0 {
				break // end of the main section
			}
			continue
		}
		if line[0] == ' ' {
			if key != "" {
				out[key] += line[1:]
			}
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			key = ""
			continue
		}
		key = strings.TrimSpace(k)
		out[key] = strings.TrimSpace(v)
	}
	for k, v := range out {
		out[k] = strings.TrimSpace(v)
	}
	return out
}

// parseProperties reads a Java properties file as Maven writes pom.properties: "key=value",
// "key: value" or "key value" lines, '#' and '!' comments, and lines continued by a trailing
// backslash. Escape sequences other than a line continuation are kept as written; Maven
// coordinates do not use them.
func parseProperties(b []byte) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	var logical strings.Builder
	for sc.Scan() {
		line := strings.TrimLeft(sc.Text(), " \t\f")
		if logical.Len() == 0 && (line == "" || line[0] == '#' || line[0] == '!') {
			continue
		}
		line = strings.TrimRight(line, "\r")
		if cont, ok := strings.CutSuffix(line, `\`); ok && !strings.HasSuffix(cont, `\`) {
			if logical.Len()+len(cont) < 1<<20 {
				logical.WriteString(cont)
			}
			continue
		}
		logical.WriteString(line)
		k, v := splitProperty(logical.String())
		logical.Reset()
		if k != "" {
			out[k] = v
		}
	}
	if logical.Len() > 0 {
		if k, v := splitProperty(logical.String()); k != "" {
			out[k] = v
		}
	}
	return out
}

// splitProperty splits a logical line: the key ends at the first '=', ':' or white space; the
// separator may be surrounded by white space.
func splitProperty(s string) (key, value string) {
	i := strings.IndexAny(s, "=: \t\f")
	if i < 0 {
		return s, ""
	}
	key, rest := s[:i], strings.TrimLeft(s[i:], " \t\f")
	if rest != "" && (rest[0] == '=' || rest[0] == ':') {
		rest = strings.TrimLeft(rest[1:], " \t\f")
	}
	return key, strings.TrimSpace(rest)
}
