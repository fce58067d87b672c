package datapool

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ocrpool/ocrpool/modules/platform/apierr"
	"github.com/ocrpool/ocrpool/modules/platform/server"
)

// v1 migration: `ocrpool import` reads the JSON lines the old per-app sync
// service exported — one correction per line, the fields of the ingest API —
// and runs every line through the same pipeline as POST /corrections/ingest,
// in batches.
//
// It is idempotent: a line already stored counts as a duplicate and changes
// nothing, so running an import twice is safe. It is resumable: after every
// batch it writes a checkpoint (FILE.import-state.json: byte offset, line
// number and counts, plus the file's size and modification time) and a
// re-run continues after the last stored batch. The checkpoint is removed
// when the import completes; a changed file, or --restart, starts over
// (idempotency makes that safe too, only slower). Rejected lines go to a
// JSON-lines file (FILE.rejects.jsonl by default) as {"line","error"}: the
// line number and the reason, never the line itself (it holds personal
// data the data pool has promised not to keep).

// ImportOptions tune an import.
type ImportOptions struct {
	// App and Environment fill source_app and source_environment of lines
	// that lack them; a line naming another app or environment is rejected.
	App, Environment string
	// BatchSize is how many lines are stored together (default 500, at most
	// datapool.max_batch).
	BatchSize int
	// RejectsPath is where rejected lines are listed; empty means
	// FILE.rejects.jsonl.
	RejectsPath string
	// Restart ignores a checkpoint of an earlier, interrupted run.
	Restart bool
	// Progress, when set, is called with the bytes of the file consumed so
	// far and the file's size, after every batch.
	Progress func(done, total int64)
}

// ImportSummary is the outcome of an import (and the checkpoint's content).
type ImportSummary struct {
	// Lines is the number of non-blank lines read.
	Lines      int64 `json:"lines"`
	Imported   int64 `json:"imported"`
	Duplicates int64 `json:"duplicates"`
	Rejected   int64 `json:"rejected"`
	// Resumed is true when the run continued an interrupted one.
	Resumed     bool   `json:"-"`
	RejectsPath string `json:"-"`
}

// importState is the checkpoint file.
type importState struct {
	Offset    int64         `json:"offset"`
	Line      int64         `json:"line"`
	FileSize  int64         `json:"file_size"`
	FileMtime time.Time     `json:"file_mtime"`
	Summary   ImportSummary `json:"summary"`
}

// StatePath is where the checkpoint of an import of path is kept.
func StatePath(path string) string { return path + ".import-state.json" }

// maxImportLine is the longest line accepted, the ingest body limit.
const maxImportLine = 8 << 20

// ImportFile imports the JSON-lines file at path (see the comment above).
func (s *Service) ImportFile(ctx context.Context, path string, opts ImportOptions) (ImportSummary, error) {
	app, err := identifier("--app", opts.App, 50)
	if err != nil {
		return ImportSummary{}, err
	}
	env, err := identifier("--env", opts.Environment, 20)
	if err != nil {
		return ImportSummary{}, err
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 500
	}
	opts.BatchSize = min(opts.BatchSize, s.cfg.MaxBatch)
	f, err := os.Open(path)
	if err != nil {
		return ImportSummary{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ImportSummary{}, err
	}
	if fi.IsDir() {
		return ImportSummary{}, fmt.Errorf("%s is a directory", path)
	}

	statePath := StatePath(path)
	st := importState{FileSize: fi.Size(), FileMtime: fi.ModTime().UTC()}
	if !opts.Restart {
		prev, err := readImportState(statePath)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return ImportSummary{}, err
		case prev.FileSize != fi.Size() || !prev.FileMtime.Equal(fi.ModTime().UTC()):
			return ImportSummary{}, fmt.Errorf("%s changed since the interrupted import that %s records; run with --restart to import it from the start (lines already stored count as duplicates)", path, statePath)
		default:
			st = prev
			st.Summary.Resumed = true
		}
	}
	if _, err := f.Seek(st.Offset, io.SeekStart); err != nil {
		return ImportSummary{}, err
	}

	rejectsPath := opts.RejectsPath
	if rejectsPath == "" {
		rejectsPath = path + ".rejects.jsonl"
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if st.Summary.Resumed {
		flags = os.O_WRONLY | os.O_CREATE | os.O_APPEND
	}
	rf, err := os.OpenFile(rejectsPath, flags, 0o600)
	if err != nil {
		return ImportSummary{}, fmt.Errorf("opening the rejects file: %w", err)
	}
	defer rf.Close()
	rejects := bufio.NewWriter(rf)
	sum := st.Summary
	sum.RejectsPath = rejectsPath

	reject := func(line int64, e *apierr.Error) error {
		sum.Rejected++
		b, _ := json.Marshal(struct {
			Line  int64         `json:"line"`
			Error *apierr.Error `json:"error"`
		}{line, e})
		_, err := rejects.Write(append(b, '\n'))
		return err
	}

	r := bufio.NewReaderSize(f, 256<<10)
	offset, lineNo := st.Offset, st.Line
	var (
		batch     []Correction
		batchLine []int64
		batchErrs []error
	)
	flush := func() error {
		if len(batch) > 0 {
			results, err := s.ingest(ctx, batch, batchErrs)
			if err != nil {
				return err
			}
			for i, res := range results {
				switch {
				case res.Error != nil:
					if err := reject(batchLine[i], res.Error); err != nil {
						return err
					}
				case res.Duplicate:
					sum.Duplicates++
				default:
					sum.Imported++
				}
			}
			batch, batchLine, batchErrs = batch[:0], batchLine[:0], batchErrs[:0]
		}
		if err := rejects.Flush(); err != nil {
			return fmt.Errorf("writing the rejects file: %w", err)
		}
		st.Offset, st.Line, st.Summary = offset, lineNo, sum
		if err := writeImportState(statePath, st); err != nil {
			return err
		}
		if opts.Progress != nil {
			opts.Progress(offset, fi.Size())
		}
		return nil
	}

	for {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		line, n, tooLong, err := readLine(r)
		if n == 0 && err == io.EOF {
			break
		}
		if err != nil && err != io.EOF {
			return sum, fmt.Errorf("reading %s: %w", path, err)
		}
		offset += n
		lineNo++
		trimmed := bytes.TrimSpace(line)
		if !tooLong && len(trimmed) == 0 {
			continue
		}
		sum.Lines++
		var c Correction
		var itemErr error
		switch {
		case tooLong:
			itemErr = apierr.New(apierr.TooLarge, "the line is over %d bytes", maxImportLine)
		default:
			if err := server.DecodeJSONBytes(trimmed, &c); err != nil {
				itemErr = err
			} else {
				itemErr = fillSource(&c, app, env)
			}
		}
		batch = append(batch, c)
		batchLine = append(batchLine, lineNo)
		batchErrs = append(batchErrs, itemErr)
		if len(batch) >= opts.BatchSize {
			if err := flush(); err != nil {
				return sum, err
			}
		}
		if err == io.EOF {
			break
		}
	}
	if err := flush(); err != nil {
		return sum, err
	}
	if err := os.Remove(statePath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return sum, err
	}
	s.log.InfoContext(ctx, "import finished", "lines", sum.Lines, "imported", sum.Imported,
		"duplicates", sum.Duplicates, "rejected", sum.Rejected)
	return sum, nil
}

// fillSource sets source_app and source_environment from the import's
// flags, refusing lines that name others.
func fillSource(c *Correction, app, env string) error {
	if a := strings.ToLower(strings.TrimSpace(c.SourceApp)); a != "" && a != app {
		return apierr.Field("source_app", "is %q but the import is for --app %q", a, app)
	}
	if e := strings.ToLower(strings.TrimSpace(c.SourceEnvironment)); e != "" && e != env {
		return apierr.Field("source_environment", "is %q but the import is for --env %q", e, env)
	}
	c.SourceApp, c.SourceEnvironment = app, env
	return nil
}

// readLine reads one line (without its newline) and the bytes it took in
// the file. A line over maxImportLine is skipped to its end and reported
// as tooLong.
func readLine(r *bufio.Reader) (line []byte, n int64, tooLong bool, err error) {
	var buf []byte
	for {
		chunk, err := r.ReadSlice('\n')
		n += int64(len(chunk))
		if !tooLong {
			if len(buf)+len(chunk) > maxImportLine {
				tooLong, buf = true, nil
			} else {
				buf = append(buf, chunk...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		return bytes.TrimSuffix(buf, []byte("\n")), n, tooLong, err
	}
}

func readImportState(path string) (importState, error) {
	var st importState
	b, err := os.ReadFile(path)
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("%s is damaged (%v): remove it to start over", path, err)
	}
	return st, nil
}

// writeImportState replaces the checkpoint atomically (write, sync, rename).
func writeImportState(path string, st importState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".import-state-*")
	if err != nil {
		return fmt.Errorf("writing the checkpoint: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("writing the checkpoint: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("writing the checkpoint: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing the checkpoint: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing the checkpoint: %w", err)
	}
	return nil
}
