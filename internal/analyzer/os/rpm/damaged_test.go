package rpm_test

import (
	"context"
	"database/sql"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/stellaops/internal/analyzer/analyzertest"
	"github.com/stellaops/stellaops/internal/analyzer/os/rpm"
)

// bdbChain returns the page size and the pages of the first overflow chain in a little-endian
// Berkeley DB file, so that tests can damage it the ways go-rpmdb cannot survive.
func bdbChain(t *testing.T, db []byte) (pageSize int, chain []int) {
	t.Helper()
	le := binary.LittleEndian
	pageSize = int(le.Uint32(db[20:24]))
	for pg := 1; (pg+1)*pageSize <= len(db); pg++ {
		p := db[pg*pageSize:]
		if p[25] == 7 && le.Uint32(p[12:16]) == 0 { // overflow page without a previous page
			for n := pg; n != 0; n = int(le.Uint32(db[n*pageSize+16:])) {
				chain = append(chain, n)
			}
			return pageSize, chain
		}
	}
	t.Fatal("no overflow chain")
	return 0, nil
}

// blobOffsets maps each byte of the package header held by the first overflow chain to its offset
// in the file, so that tests can damage the header itself.
func blobOffsets(t *testing.T, db []byte) []int {
	t.Helper()
	le := binary.LittleEndian
	pageSize, chain := bdbChain(t, db)
	var offs []int
	for _, pg := range chain {
		n := pageSize - 26
		if le.Uint32(db[pg*pageSize+16:]) == 0 {
			n = int(le.Uint16(db[pg*pageSize+22:]))
		}
		for i := range n {
			offs = append(offs, pg*pageSize+26+i)
		}
	}
	return offs
}

// headerEntry returns the file offsets of the 16-byte index entry with the given tag, and of the
// start of its data, in the header of the first overflow chain.
func headerEntry(t *testing.T, db []byte, tag uint32) (entry, data []int) {
	t.Helper()
	offs := blobOffsets(t, db)
	get := func(i int) uint32 {
		var b [4]byte
		for k := range b {
			b[k] = db[offs[i+k]]
		}
		return binary.BigEndian.Uint32(b[:])
	}
	il := int(get(0))
	for i := range il {
		if get(8+16*i) == tag {
			start := 8 + 16*il + int(get(8+16*i+8))
			return offs[8+16*i : 8+16*i+16], offs[start:]
		}
	}
	t.Fatalf("no tag %d", tag)
	return nil, nil
}

// TestDamagedDatabases checks that damaged databases give an error, not a panic, a hang or an
// allocation of gigabytes. Without the checks of check.go, go-rpmdb loops forever on the
// "not an overflow page" and "loop" cases, and allocates gigabytes on the "header counts" ones.
func TestDamagedDatabases(t *testing.T) {
	le := binary.LittleEndian
	uuid := readGzip(t, "testdata/libuuid.Packages.gz")
	ndb := readGzip(t, "testdata/sle15-bci.Packages.db.gz")
	sqlite := readGzip(t, "testdata/cbl-mariner-2.0.rpmdb.sqlite.gz")
	modular := readGzip(t, "testdata/centos8-modular-subset.Packages.gz")
	pageSize, chain := bdbChain(t, uuid)
	edit := func(b []byte, f func(b []byte)) []byte {
		c := append([]byte(nil), b...)
		f(c)
		return c
	}
	// The first NDB slot in use: its blob offset, in 16-byte blocks.
	ndbBlob := func(b []byte) int {
		for off := 32; ; off += 16 {
			if le.Uint32(b[off+4:]) != 0 {
				return int(le.Uint32(b[off+8:])) * 16
			}
		}
	}
	tests := []struct {
		name, path string
		data       []byte
		wantErr    string
	}{
		{"Berkeley DB cut in half", "var/lib/rpm/Packages", modular[:len(modular)/2], "truncated"},
		{"Berkeley DB cut inside the metadata page", "var/lib/rpm/Packages", uuid[:300], "truncated"},
		{"NDB cut in half", "var/lib/rpm/Packages.db", ndb[:len(ndb)/2], ""},
		{"NDB cut inside the slots", "var/lib/rpm/Packages.db", ndb[:5000], "truncated"},
		{"SQLite cut in half", "var/lib/rpm/rpmdb.sqlite", sqlite[:len(sqlite)/2], ""},
		{"garbage", "var/lib/rpm/Packages", []byte(strings.Repeat("not an rpm database ", 100)), "not an rpm database"},
		{"overflow chain through a page that is not an overflow page", "var/lib/rpm/Packages",
			edit(uuid, func(b []byte) { b[chain[len(chain)-1]*pageSize+25] = 13 }), "in an overflow chain has type 13"},
		{"overflow chain in a loop", "var/lib/rpm/Packages",
			edit(uuid, func(b []byte) { le.PutUint32(b[chain[len(chain)-1]*pageSize+16:], uint32(chain[0])) }), "loop"},
		{"overflow chain past the end", "var/lib/rpm/Packages",
			edit(uuid, func(b []byte) { le.PutUint32(b[chain[0]*pageSize+16:], 1<<30) }), "beyond the last page"},
		{"last overflow page overfull", "var/lib/rpm/Packages",
			edit(uuid, func(b []byte) { le.PutUint16(b[chain[len(chain)-1]*pageSize+22:], 0xfff0) }), "holds 65520 bytes"},
		{"Berkeley DB header counts", "var/lib/rpm/Packages",
			edit(uuid, func(b []byte) { binary.BigEndian.PutUint32(b[chain[0]*pageSize+26:], 0x7fffffff) }), "index entries"},
		{"string array count of two billion", "var/lib/rpm/Packages",
			edit(uuid, func(b []byte) {
				e, _ := headerEntry(t, uuid, 1117) // RPMTAG_BASENAMES, a string array
				for k, v := range []byte{0x7f, 0xff, 0xff, 0xff} {
					b[e[12+k]] = v
				}
			}), "claims 2147483647 strings"},
		{"Berkeley DB encrypted", "var/lib/rpm/Packages", edit(uuid, func(b []byte) { b[24] = 1 }), "encrypted"},
		{"NDB blob magic", "var/lib/rpm/Packages.db", edit(ndb, func(b []byte) { b[ndbBlob(b)] = 'X' }), "bad magic"},
		{"NDB slot magic", "var/lib/rpm/Packages.db", edit(ndb, func(b []byte) { b[32] = 'X' }), "bad magic"},
		{"NDB blob length", "var/lib/rpm/Packages.db", edit(ndb, func(b []byte) { le.PutUint32(b[ndbBlob(b)+12:], 0xfffffff0) }), "truncated"},
		{"NDB header counts", "var/lib/rpm/Packages.db",
			edit(ndb, func(b []byte) { binary.BigEndian.PutUint32(b[ndbBlob(b)+20:], 0x7fffffff) }), "data bytes"},
		{"SQLite without a Packages table", "var/lib/rpm/rpmdb.sqlite", sqliteWithout(t), "no such table"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := analyzertest.Input(t, tt.path, tt.data, 0o644)
			res, err := rpm.New(rpm.DefaultConfig()).Analyze(context.Background(), in)
			if err == nil {
				t.Fatalf("no error; got %d packages", len(res.Components))
			}
			if !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), tt.path+": ") {
				t.Errorf("error %q does not start with the path or lacks %q", err, tt.wantErr)
			}
			if res != nil {
				t.Errorf("result %+v with error", res)
			}
			t.Log(err)
		})
	}
}

// TestNegativeDirectoryIndex damages one directory index of the file list (go-rpmdb v0.1.1
// indexes with it unchecked and panics): the package is kept, its files are not, and the
// error says why.
func TestNegativeDirectoryIndex(t *testing.T) {
	uuid := readGzip(t, "testdata/libuuid.Packages.gz")
	_, data := headerEntry(t, uuid, 1116) // RPMTAG_DIRINDEXES, int32 array
	b := append([]byte(nil), uuid...)
	for k, v := range []byte{0xb0, 0, 0, 2} {
		b[data[k]] = v
	}
	res, err := rpm.New(rpm.DefaultConfig()).Analyze(context.Background(), analyzertest.Input(t, "var/lib/rpm/Packages", b, 0o644))
	if err == nil || !strings.Contains(err.Error(), "libuuid: file list: directory index -1342177278 out of") {
		t.Errorf("error = %v", err)
	}
	if res == nil || len(res.Components) != 1 || len(res.OwnedFiles) != 0 {
		t.Errorf("result = %+v", res)
	}
}

// sqliteWithout builds an SQLite file with the rpmdb schema's other tables but no Packages table.
func sqliteWithout(t *testing.T) []byte {
	name := filepath.Join(t.TempDir(), "rpmdb.sqlite")
	db, err := sql.Open("sqlite", name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE Name (key TEXT NOT NULL, hnum INTEGER NOT NULL, idx INTEGER NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
