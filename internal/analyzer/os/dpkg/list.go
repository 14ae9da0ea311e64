package dpkg

import "bytes"

// parseList reads a dpkg file list (info/<package>.list): one absolute path per line, the
// package's directories included, in the order of the package's data archive, where a directory
// comes right before what it holds. It returns the paths relative to the root without a leading
// slash, dropping "/." and every entry that is the directory of the entry after it; an empty
// directory the package ships stays in the list, which is harmless for ownership.
func parseList(data []byte) []string {
	var (
		out  []string
		prev []byte // the previous path, held back until we know it is not a directory
	)
	for len(data) > 0 {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		p := bytes.TrimLeft(line, "/")
		for bytes.HasPrefix(p, []byte("./")) {
			p = bytes.TrimLeft(p[2:], "/")
		}
		if len(p) == 0 || (len(p) == 1 && p[0] == '.') {
			continue
		}
		if prev != nil && !isParent(prev, p) {
			out = append(out, string(prev))
		}
		prev = p
	}
	if prev != nil {
		out = append(out, string(prev))
	}
	return out
}

// isParent reports whether dir is a directory on the path of p ("usr" for "usr/bin/ls").
func isParent(dir, p []byte) bool {
	return len(p) > len(dir) && p[len(dir)] == '/' && bytes.HasPrefix(p, dir)
}
