package rpm

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// format is the storage format of an rpm database.
type format int

const (
	formatBDB format = iota + 1
	formatNDB
	formatSQLite
)

func (f format) String() string {
	switch f {
	case formatBDB:
		return "Berkeley DB"
	case formatNDB:
		return "NDB"
	case formatSQLite:
		return "SQLite"
	}
	return "unknown"
}

const (
	sqliteMagic  = "SQLite format 3\x00"
	ndbMagic     = 'R' | 'p'<<8 | 'm'<<16 | 'P'<<24 // little-endian "RpmP"
	bdbHashMagic = 0x00061561
)

// errTruncated is wrapped by the checks when the file ends before the structure it declares.
var errTruncated = errors.New("file is truncated")

// detect tells the format from the first bytes, as go-rpmdb does, so that the matching check runs.
func detect(r io.ReaderAt) (format, error) {
	var hdr [16]byte
	n, _ := r.ReadAt(hdr[:], 0)
	switch {
	case n == len(hdr) && string(hdr[:]) == sqliteMagic:
		return formatSQLite, nil
	case n >= 4 && binary.LittleEndian.Uint32(hdr[:4]) == ndbMagic:
		return formatNDB, nil
	case n == len(hdr) && (binary.LittleEndian.Uint32(hdr[12:]) == bdbHashMagic ||
		binary.BigEndian.Uint32(hdr[12:]) == bdbHashMagic):
		return formatBDB, nil
	}
	return 0, errors.New("not an rpm database: no SQLite, NDB or Berkeley DB hash header")
}

// checkPaged validates the structure of a Berkeley DB or NDB file before go-rpmdb reads it.
// SQLite files are checked by checkSQLite once copied, as they need the driver.
func checkPaged(ctx context.Context, f format, r *io.SectionReader) error {
	switch f {
	case formatBDB:
		return checkBDB(ctx, r)
	case formatNDB:
		return checkNDB(ctx, r)
	}
	return nil
}

// checkSQLite opens the copied database with the same driver go-rpmdb uses and checks every
// header blob of the Packages table. go-rpmdb leaves a goroutine blocked forever when its query
// fails, so a missing table or an unreadable row must be found here first.
func checkSQLite(ctx context.Context, file string) (err error) {
	db, err := sql.Open("sqlite", file)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := db.Close(); err == nil {
			err = cerr
		}
	}()
	rows, err := db.QueryContext(ctx, "SELECT blob FROM Packages")
	if err != nil {
		return err
	}
	defer rows.Close()
	for n := 0; rows.Next(); n++ {
		var blob []byte
		if err := rows.Scan(&blob); err != nil {
			return fmt.Errorf("row %d: %w", n, err)
		}
		if err := checkHeader(blob); err != nil {
			return fmt.Errorf("row %d: %w", n, err)
		}
	}
	return rows.Err()
}
