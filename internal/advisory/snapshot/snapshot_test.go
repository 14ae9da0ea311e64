package snapshot

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/canonjson"
	"github.com/stellaops/stellaops/internal/inventory"
)

func fixtures(t testing.TB) []*advisory.Advisory {
	t.Helper()
	res, err := advisory.LoadOSV(context.Background(), "osv:test", "../testdata/osv")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) > 0 {
		t.Fatalf("fixture errors: %+v", res.Errors)
	}
	return res.Advisories
}

func build(t testing.TB, advs []*advisory.Advisory) (*Snapshot, Meta) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "s.db")
	m, err := Build(context.Background(), p, advs, []SourceInfo{{Name: "osv:test", Documents: len(advs)}}, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, m
}

func TestBuildOpenLookup(t *testing.T) {
	s, m := build(t, fixtures(t))
	// 10 documents, of which the three ALSA copies are one advisory.
	if m.Advisories != 8 || s.Meta().Digest != m.Digest || s.Digest() == "" {
		t.Fatalf("meta = %+v", s.Meta())
	}
	es, err := s.Lookup(inventory.EcosystemGo, "", "golang.org/x/net")
	if err != nil || len(es) != 1 || es[0].Advisory != "CVE-2018-17846" || es[0].Ranges[0].Type != advisory.RangeSemVer {
		t.Fatalf("x/net entries %+v, %v", es, err)
	}
	// PyPI names are found whatever their spelling.
	a, _ := s.Advisory("PYSEC-2019-241")
	name := a.Affected[0].Package
	for _, spelling := range []string{name, "  "[:0] + upper(name)} {
		if es, _ := s.Lookup(inventory.EcosystemPyPI, "", spelling); len(es) == 0 {
			t.Errorf("Lookup(pypi, %q) found nothing", spelling)
		}
	}
	if es, _ := s.Lookup(inventory.EcosystemRPM, "almalinux:9", a.Affected[0].Package); len(es) != 0 {
		t.Error("a PyPI name found under an RPM distro")
	}
	// Any alias leads to the advisory.
	for _, id := range []string{"CVE-2018-17846", "GO-2020-0014", "GHSA-vfw5-hrgq-h5wf"} {
		if a, err := s.Advisory(id); err != nil || a.ID != "CVE-2018-17846" {
			t.Errorf("Advisory(%s) = %v, %v", id, a, err)
		}
	}
	if _, err := s.Advisory("CVE-0000-0000"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown id: %v", err)
	}
	n := 0
	if err := s.ForEach(func(*advisory.Advisory) error { n++; return nil }); err != nil || n != m.Advisories {
		t.Errorf("ForEach visited %d, %v", n, err)
	}
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}

// The digest depends on content only: input order and duplicate documents do not change it.
func TestDigestIsContentAddressed(t *testing.T) {
	a := fixtures(t)
	b := fixtures(t)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(b), func(i, j int) { b[i], b[j] = b[j], b[i] })
	b = append(b, fixtures(t)[0])
	_, ma := build(t, a)
	_, mb := build(t, b)
	if ma.Digest != mb.Digest {
		t.Errorf("digest depends on input order: %s vs %s", ma.Digest, mb.Digest)
	}
	c := fixtures(t)
	c[0].Summary += " (edited)"
	if _, mc := build(t, c); mc.Digest == ma.Digest {
		t.Error("an edited advisory kept the same digest")
	}
}

func TestStorePublish(t *testing.T) {
	st, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Current(); !errors.Is(err, ErrNoSnapshot) {
		t.Fatalf("empty store: %v", err)
	}
	m1, err := st.Publish(context.Background(), fixtures(t)[:3], nil, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	old, err := st.Current()
	if err != nil || old.Digest() != m1.Digest {
		t.Fatalf("current = %v, %v", old, err)
	}
	defer old.Close()
	m2, err := st.Publish(context.Background(), fixtures(t), nil, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	cur, err := st.Current()
	if err != nil || cur.Digest() != m2.Digest || m2.Digest == m1.Digest {
		t.Fatalf("after republish current = %v (%v)", cur.Digest(), err)
	}
	cur.Close()
	// A scan that opened the old snapshot keeps reading it.
	if old.Meta().Advisories != m1.Advisories {
		t.Error("open snapshot changed under its reader")
	}
	if _, err := old.Lookup(inventory.EcosystemGo, "", "golang.org/x/net"); err != nil {
		t.Errorf("old snapshot unreadable after publish: %v", err)
	}
	files, _ := filepath.Glob(filepath.Join(st.dir, "*.db"))
	if len(files) != 2 {
		t.Errorf("snapshot files = %v", files)
	}
}

func TestEntriesRoundTrip(t *testing.T) {
	es := []Entry{
		{Advisory: "CVE-2024-1", Package: "openssl", Status: advisory.StatusWillNotFix, Level: advisory.LevelHigh, LevelSource: "debian", Source: "debian-tracker"},
		{Advisory: "GHSA-x", Package: "Django", Versions: []string{"1.0", "1.1"}, Source: "osv:PyPI",
			Ranges: []advisory.Range{{Type: advisory.RangeEcosystem, Events: []advisory.Event{{Introduced: "0"}, {Fixed: "1.2"}, {LastAffected: "1.1.9"}, {Limit: "2"}}},
				{Type: advisory.RangeGit, Repo: "https://github.com/django/django", Events: []advisory.Event{{Introduced: "abc"}}}}},
	}
	got, err := decodeEntries(encodeEntries(es))
	if err != nil {
		t.Fatal(err)
	}
	if !got[1].HasVersion("1.1") || got[1].HasVersion("1.3") || got[1].HasVersion("1.") || got[0].HasVersion("1.0") {
		t.Error("HasVersion answers wrongly on the encoded list")
	}
	for i := range got {
		got[i].Versions, got[i].versions = got[i].VersionList(), ""
	}
	if diff := cmp.Diff(es, got, cmpopts.IgnoreUnexported(Entry{})); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestDecodeRejectsEmptyAndTruncated(t *testing.T) {
	good := encodeEntries([]Entry{{Advisory: "A", Package: "p"}})
	for _, b := range [][]byte{nil, good[:len(good)-1], append(append([]byte{}, good...), 0)} {
		if _, err := decodeEntries(b); err == nil {
			t.Errorf("decodeEntries(%q) accepted", b)
		}
	}
}

func TestOpenRefusesOtherFiles(t *testing.T) {
	p := filepath.Join(t.TempDir(), "junk.db")
	os.WriteFile(p, []byte("not a snapshot"), 0o644)
	if _, err := Open(p); err == nil {
		t.Error("opened a junk file")
	}
}

func FuzzDecodeEntries(f *testing.F) {
	f.Add(encodeEntries([]Entry{{Advisory: "A", Package: "p", Ranges: []advisory.Range{{Type: "SEMVER", Events: []advisory.Event{{Introduced: "0"}, {Fixed: "1"}}}}}}))
	f.Add([]byte{0x05, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := decodeEntries(b)
		if err != nil {
			return
		}
		// Whatever decodes survives a round trip unchanged (over-long varints may shorten).
		for i := range es {
			es[i].Versions, es[i].versions = es[i].VersionList(), ""
		}
		again, err := decodeEntries(encodeEntries(es))
		for i := range again {
			again[i].Versions, again[i].versions = again[i].VersionList(), ""
		}
		if err != nil || !cmp.Equal(es, again, cmpopts.IgnoreUnexported(Entry{})) {
			t.Fatalf("round trip changed the entries: %v", err)
		}
	})
}

// BuildEncoded with the encodings Build would compute gives the same snapshot digest; it refuses
// unsorted input and a wrong number of encodings.
func TestBuildEncodedMatchesBuild(t *testing.T) {
	advs := []*advisory.Advisory{
		{ID: "CVE-2024-2", Summary: "two", Sources: []advisory.Provenance{{Source: "t", Document: "2"}}},
		{ID: "CVE-2024-1", Summary: "one", Sources: []advisory.Provenance{{Source: "t", Document: "1"}}},
	}
	dir := t.TempDir()
	m1, err := Build(context.Background(), filepath.Join(dir, "a.db"), slices.Clone(advs), nil, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	sorted := []*advisory.Advisory{advs[1], advs[0]}
	var canon [][]byte
	for _, a := range sorted {
		b, err := canonjson.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		canon = append(canon, b)
	}
	m2, err := BuildEncoded(context.Background(), filepath.Join(dir, "b.db"), sorted, canon, nil, time.Unix(0, 0))
	if err != nil || m2.Digest != m1.Digest {
		t.Fatalf("BuildEncoded digest %s, Build %s (%v)", m2.Digest, m1.Digest, err)
	}
	if _, err := BuildEncoded(context.Background(), filepath.Join(dir, "c.db"), advs, canon, nil, time.Unix(0, 0)); err == nil {
		t.Error("unsorted advisories accepted")
	}
	if _, err := BuildEncoded(context.Background(), filepath.Join(dir, "d.db"), sorted, canon[:1], nil, time.Unix(0, 0)); err == nil {
		t.Error("a missing encoding accepted")
	}
}
