package bolt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
)

// checkFile reads the bbolt file at path and returns why it cannot be used, or
// nil. It checks every offset against the file's size before it reads there, so
// that no damage can make it fault: bbolt trusts its file and, on a damaged
// one, panics or faults on a page of its map (SIGSEGV, SIGBUS), which no
// recover catches by default. It reads the file through a read-only map (a
// 1M-session file is walked in a tenth of a second; a read call per page took
// over a second) and checks what bbolt's Tx.Check checks, before bbolt opens
// the file, and more:
//
//   - a meta page is valid (magic, version, checksum), and the file holds every
//     page up to the high-water mark it names;
//   - every page of the tree, from the root bucket down through the buckets in
//     it, is in range, is a branch or leaf page whose header names it, is
//     reached once (no cycle), and keeps its keys in order within the bounds
//     its parent sets; every element lies inside its page;
//   - the freelist is in range, names no page twice and no page in use; every
//     page below the high-water mark is in use or free.
//
// The page format is bbolt's (go.etcd.io/bbolt internal/common, file format
// version 2), on a little-endian machine as bbolt writes it.
func checkFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	data, unmap, err := mapFile(f, fi.Size())
	if err != nil {
		return err
	}
	defer unmap()
	c := &checker{data: data}
	return c.run()
}

// The bbolt file format, version 2.
const (
	pageHeaderSize = 16 // id u64, flags u16, count u16, overflow u32
	elemSize       = 16 // branch: pos u32, ksize u32, pgid u64; leaf: flags u32, pos u32, ksize u32, vsize u32
	metaSize       = 64 // magic, version, pageSize, flags u32; root u64, sequence u64; freelist, pgid, txid, checksum u64

	boltMagic   = 0xED0CDAED
	boltVersion = 2

	branchFlag   = 0x01
	leafFlag     = 0x02
	metaFlag     = 0x04
	freelistFlag = 0x10
	bucketFlag   = 0x01 // a leaf element that is a bucket

	noFreelist = ^uint64(0)
	maxDepth   = 64 // far beyond any real tree: 4 KiB pages of 16-byte keys reach 5 levels at a billion keys
)

type meta struct {
	pageSize uint32
	root     uint64
	freelist uint64
	pgid     uint64 // the high-water mark: pages 0..pgid-1 are the file's
	txid     uint64
}

// parseMeta parses the meta page in b (from its page header on).
func parseMeta(b []byte) (meta, error) {
	if len(b) < pageHeaderSize+metaSize {
		return meta{}, errors.New("shorter than a meta page")
	}
	m := b[pageHeaderSize : pageHeaderSize+metaSize]
	le := binary.LittleEndian
	if le.Uint32(m[0:]) != boltMagic {
		return meta{}, errors.New("no bbolt magic number")
	}
	if v := le.Uint32(m[4:]); v != boltVersion {
		return meta{}, fmt.Errorf("format version %d, not %d", v, boltVersion)
	}
	h := fnv.New64a()
	h.Write(m[:56])
	if h.Sum64() != le.Uint64(m[56:]) {
		return meta{}, errors.New("meta checksum mismatch")
	}
	return meta{pageSize: le.Uint32(m[8:]), root: le.Uint64(m[16:]), freelist: le.Uint64(m[32:]),
		pgid: le.Uint64(m[40:]), txid: le.Uint64(m[48:])}, nil
}

type checker struct {
	data    []byte // the whole file
	m       meta
	ps      int
	reached []bool // by page ID: in use (meta, freelist or tree)
	free    []bool // by page ID: on the freelist
}

func (c *checker) run() error {
	if err := c.pickMeta(); err != nil {
		return err
	}
	ps := int(c.m.pageSize)
	if ps < 1024 || ps > 1<<16 || ps&(ps-1) != 0 {
		return fmt.Errorf("page size %d", ps)
	}
	c.ps = ps
	hwm := c.m.pgid
	switch {
	case hwm < 4: // two meta pages, a freelist and a root leaf at least
		return fmt.Errorf("high-water mark of %d pages", hwm)
	case hwm > uint64(len(c.data)/ps):
		return fmt.Errorf("truncated: %d bytes, its pages need %.0f", len(c.data), float64(hwm)*float64(ps))
	}
	c.reached, c.free = make([]bool, hwm), make([]bool, hwm)
	c.reached[0], c.reached[1] = true, true
	if c.m.freelist != noFreelist {
		if err := c.checkFreelist(); err != nil {
			return err
		}
	}
	if err := c.walk(c.m.root, nil, nil, 0); err != nil {
		return fmt.Errorf("root bucket: %w", err)
	}
	if c.m.freelist == noFreelist {
		return nil // bbolt rebuilds the freelist by scanning; nothing to compare
	}
	for id := uint64(2); id < hwm; id++ {
		if !c.reached[id] && !c.free[id] {
			return fmt.Errorf("page %d: neither in use nor free", id)
		}
	}
	return nil
}

// pickMeta reads both meta pages and keeps the valid one with the higher
// transaction ID, as bbolt does.
func (c *checker) pickMeta() error {
	const n = pageHeaderSize + metaSize
	if len(c.data) < n {
		return fmt.Errorf("%d bytes: too short for a bbolt file", len(c.data))
	}
	m0, err0 := parseMeta(c.data[:n])
	// The second meta page sits one page in; without a valid first one, try the
	// page sizes bbolt tries.
	var m1 meta
	err1 := errors.New("not found")
	sizes := []int{int(m0.pageSize)}
	if err0 != nil {
		sizes = sizes[:0]
		for i := range 7 {
			sizes = append(sizes, 1024<<i)
		}
	}
	for _, ps := range sizes {
		if ps <= 0 || ps+n > len(c.data) {
			continue
		}
		if m, err := parseMeta(c.data[ps : ps+n]); err == nil && int(m.pageSize) == ps {
			m1, err1 = m, nil
			break
		}
	}
	switch {
	case err0 == nil && err1 == nil && m1.txid > m0.txid, err0 != nil && err1 == nil:
		c.m = m1
	case err0 == nil:
		c.m = m0
	default:
		return fmt.Errorf("no valid meta page: %v", err0)
	}
	// bbolt reads both, valid or not, and asserts (panics) that both are meta
	// pages: one may be torn (its checksum wrong), not overwritten.
	for id := range 2 {
		at := id * int(c.m.pageSize)
		if at+pageHeaderSize > len(c.data) {
			return fmt.Errorf("truncated: %d bytes", len(c.data))
		}
		if f := binary.LittleEndian.Uint16(c.data[at+8:]); f != metaFlag {
			return fmt.Errorf("page %d: not a meta page (flags %#x)", id, f)
		}
	}
	return nil
}

// page returns page id with its overflow pages, and marks them reached.
func (c *checker) page(id uint64, what string) ([]byte, error) {
	hwm := uint64(len(c.reached))
	if id < 2 || id >= hwm {
		return nil, fmt.Errorf("%s page %d out of range [2, %d)", what, id, hwm)
	}
	at := int(id) * c.ps // below hwm, which run checked against the file's size
	hdr := c.data[at : at+pageHeaderSize]
	if got := binary.LittleEndian.Uint64(hdr[0:]); got != id {
		return nil, fmt.Errorf("page %d: its header says page %d", id, got)
	}
	overflow := uint64(binary.LittleEndian.Uint32(hdr[12:]))
	if overflow >= hwm-id {
		return nil, fmt.Errorf("page %d: %d overflow pages run past the high-water mark %d", id, overflow, hwm)
	}
	for i := id; i <= id+overflow; i++ {
		if c.reached[i] {
			return nil, fmt.Errorf("page %d: reached twice", i)
		}
		if c.free[i] {
			return nil, fmt.Errorf("page %d: in use and free", i)
		}
		c.reached[i] = true
	}
	return c.data[at : at+int(overflow+1)*c.ps], nil
}

func (c *checker) checkFreelist() error {
	b, err := c.page(c.m.freelist, "freelist")
	if err != nil {
		return err
	}
	if f := binary.LittleEndian.Uint16(b[8:]); f != freelistFlag {
		return fmt.Errorf("freelist page %d: flags %#x", c.m.freelist, f)
	}
	ids := b[pageHeaderSize:]
	n := uint64(binary.LittleEndian.Uint16(b[10:]))
	if n == 0xFFFF { // the count overflowed into the first element
		if len(ids) < 8 {
			return fmt.Errorf("freelist page %d: no count", c.m.freelist)
		}
		n, ids = binary.LittleEndian.Uint64(ids), ids[8:]
	}
	if n > uint64(len(ids)/8) {
		return fmt.Errorf("freelist page %d: %d IDs do not fit in it", c.m.freelist, n)
	}
	for i := range n {
		id := binary.LittleEndian.Uint64(ids[8*i:])
		switch {
		case id < 2 || id >= uint64(len(c.free)):
			return fmt.Errorf("freelist: page %d out of range", id)
		case c.free[id]:
			return fmt.Errorf("freelist: page %d freed twice", id)
		case c.reached[id]:
			return fmt.Errorf("freelist: page %d is in use", id)
		}
		c.free[id] = true
	}
	return nil
}

// walk checks the subtree at page id, whose keys must lie in [lo, hi) (nil: no
// bound), and the buckets in its leaves.
func (c *checker) walk(id uint64, lo, hi []byte, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("page %d: deeper than %d levels", id, maxDepth)
	}
	b, err := c.page(id, "tree")
	if err != nil {
		return err
	}
	switch f := binary.LittleEndian.Uint16(b[8:]); f {
	case branchFlag:
		return c.branch(id, b, lo, hi, depth)
	case leafFlag:
		return c.leaf(fmt.Sprintf("page %d", id), b, lo, hi, depth)
	default:
		return fmt.Errorf("page %d: neither branch nor leaf (flags %#x)", id, f)
	}
}

// elem returns the i-th 16-byte element of page b, and b from that element on
// (where its key and value offsets count from).
func elem(b []byte, i int) ([]byte, []byte, error) {
	at := pageHeaderSize + i*elemSize
	if at+elemSize > len(b) {
		return nil, nil, fmt.Errorf("element %d lies past the page", i)
	}
	return b[at : at+elemSize], b[at:], nil
}

// slice returns from[pos:pos+n], or an error if that is not inside from.
func slice(from []byte, pos, n uint32) ([]byte, error) {
	end := uint64(pos) + uint64(n)
	if end > uint64(len(from)) {
		return nil, errors.New("key or value lies past the page")
	}
	return from[pos:end], nil
}

func (c *checker) branch(id uint64, b, lo, hi []byte, depth int) error {
	n := int(binary.LittleEndian.Uint16(b[10:]))
	type child struct {
		key []byte
		id  uint64
	}
	kids := make([]child, 0, n)
	prev := lo
	for i := range n {
		e, from, err := elem(b, i)
		if err != nil {
			return fmt.Errorf("page %d: %w", id, err)
		}
		key, err := slice(from, binary.LittleEndian.Uint32(e[0:]), binary.LittleEndian.Uint32(e[4:]))
		if err != nil {
			return fmt.Errorf("page %d element %d: %w", id, i, err)
		}
		if err := inOrder(key, prev, hi, i > 0); err != nil {
			return fmt.Errorf("page %d element %d: %w", id, i, err)
		}
		prev = key
		kids = append(kids, child{key, binary.LittleEndian.Uint64(e[8:])})
	}
	for i, k := range kids {
		next := hi
		if i+1 < len(kids) {
			next = kids[i+1].key
		}
		if err := c.walk(k.id, k.key, next, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// leaf checks the leaf page b (named where in errors) and the buckets in it.
func (c *checker) leaf(where string, b, lo, hi []byte, depth int) error {
	if len(b) < pageHeaderSize {
		return fmt.Errorf("%s: shorter than a page header", where)
	}
	if f := binary.LittleEndian.Uint16(b[8:]); f != leafFlag {
		return fmt.Errorf("%s: not a leaf (flags %#x)", where, f)
	}
	n := int(binary.LittleEndian.Uint16(b[10:]))
	prev := lo
	for i := range n {
		e, from, err := elem(b, i)
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		pos, ks, vs := binary.LittleEndian.Uint32(e[4:]), binary.LittleEndian.Uint32(e[8:]), binary.LittleEndian.Uint32(e[12:])
		kv, err := slice(from, pos, ks+vs)
		if err != nil || ks+vs < ks {
			return fmt.Errorf("%s element %d: key or value lies past the page", where, i)
		}
		key, val := kv[:ks], kv[ks:]
		if err := inOrder(key, prev, hi, i > 0); err != nil {
			return fmt.Errorf("%s element %d: %w", where, i, err)
		}
		prev = key
		if binary.LittleEndian.Uint32(e[0:])&bucketFlag == 0 {
			continue
		}
		if len(val) < 16 {
			return fmt.Errorf("%s: bucket %q: a %d-byte header", where, key, len(val))
		}
		name := fmt.Sprintf("bucket %q", key)
		if root := binary.LittleEndian.Uint64(val); root != 0 {
			if err := c.walk(root, nil, nil, depth+1); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		} else if err := c.leaf(name+" (inline)", val[16:], nil, nil, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// inOrder checks that key comes after prev (strictly if strict, else not before
// it) and before hi.
func inOrder(key, prev, hi []byte, strict bool) error {
	if prev != nil {
		if d := bytes.Compare(key, prev); d < 0 || (strict && d == 0) {
			return fmt.Errorf("key %x out of order after %x", key, prev)
		}
	}
	if hi != nil && bytes.Compare(key, hi) >= 0 {
		return fmt.Errorf("key %x not below its parent's next key %x", key, hi)
	}
	return nil
}
