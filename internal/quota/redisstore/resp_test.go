package redisstore_test

// A minimal RESP2 client, test-only: the module has no Redis client dependency yet, and the
// conformance suite must still run against a real Redis. One connection, one call at a time.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"
)

type respClient struct {
	mu   sync.Mutex
	conn net.Conn
	r    *bufio.Reader
}

func dialRESP(addr string) (*respClient, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, fmt.Errorf("dial redis %s: %w", addr, err)
	}
	return &respClient{conn: c, r: bufio.NewReader(c)}, nil
}

func (c *respClient) Close() error { return c.conn.Close() }

// Eval satisfies redisstore.Evaler.
func (c *respClient) Eval(ctx context.Context, script string, keys []string, args ...any) (any, error) {
	cmd := []any{"EVAL", script, len(keys)}
	for _, k := range keys {
		cmd = append(cmd, k)
	}
	return c.Do(ctx, append(cmd, args...)...)
}

// Do sends one command and reads its reply.
func (c *respClient) Do(ctx context.Context, args ...any) (any, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(5 * time.Second)
	}
	if err := c.conn.SetDeadline(deadline); err != nil {
		return nil, err
	}
	buf := []byte("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		s := fmt.Sprint(a)
		buf = append(buf, "$"+strconv.Itoa(len(s))+"\r\n"+s+"\r\n"...)
	}
	if _, err := c.conn.Write(buf); err != nil {
		return nil, fmt.Errorf("redis write: %w", err)
	}
	return c.read()
}

func (c *respClient) read() (any, error) {
	line, err := c.r.ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("redis read: %w", err)
	}
	if len(line) < 3 {
		return nil, errors.New("redis: short reply")
	}
	body := line[1 : len(line)-2]
	switch line[0] {
	case '+':
		return body, nil
	case '-':
		return nil, errors.New(body)
	case ':':
		return strconv.ParseInt(body, 10, 64)
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil || n < 0 {
			return nil, err
		}
		b := make([]byte, n+2)
		if _, err := io.ReadFull(c.r, b); err != nil {
			return nil, err
		}
		return string(b[:n]), nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil || n < 0 {
			return nil, err
		}
		out := make([]any, n)
		for i := range out {
			if out[i], err = c.read(); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("redis: unknown reply %q", line)
}
