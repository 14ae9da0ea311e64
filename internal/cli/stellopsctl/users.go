package stellopsctl

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"math/big"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/stellaops/stellaops/internal/authority"
	"github.com/stellaops/stellaops/internal/cli"
	"github.com/stellaops/stellaops/pkg/client"
)

func userCommand(g *globals) *cobra.Command {
	return group("user", "Users of the Authority (password grant): add, list, remove",
		userAddCommand(g), userListCommand(g), userRemoveCommand(g))
}

// roleNames are the user roles, sorted.
func roleNames() []string {
	var r []string
	for k := range authority.Roles() {
		r = append(r, k)
	}
	slices.Sort(r)
	return r
}

// addedUser is user add's result; Password is set only when stellopsctl generated it.
type addedUser struct {
	client.UserInfo
	Scopes   []string `json:"scopes"`
	Password string   `json:"password,omitempty"`
}

func userAddCommand(g *globals) *cobra.Command {
	var roles []string
	var tenant string
	var passwordStdin, replace bool
	c := &cobra.Command{
		Use:   "add NAME --role ROLE",
		Short: "Create a user with one or more roles (viewer, developer, operator, admin)",
		Long: `Create the user NAME with --role (repeatable or comma-separated): viewer, developer, operator
or admin, each granting the scopes of the one before and more. The password is read from stdin
with --password-stdin; otherwise a strong one is generated and printed once: keep it then, it is
stored hashed and cannot be shown again. The password must meet the server's password policy
(by default 12 characters or more with upper and lower case letters, a digit and a symbol).

An existing user is left alone unless --replace, which resets its password, roles and tenant.
Calls the admin API with the bootstrap key.

  stellopsctl user add dev-team --role developer
  printf '%s' "$PASSWORD" | stellopsctl user add alice --role operator,viewer --password-stdin`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			known := authority.Roles()
			if len(roles) == 0 {
				return cli.Usagef("user add: --role is required (%s)", strings.Join(roleNames(), ", "))
			}
			for _, r := range roles {
				if _, ok := known[r]; !ok {
					return cli.Usagef("user add: unknown role %q (%s)", r, strings.Join(roleNames(), ", "))
				}
			}
			var password, generated string
			if passwordStdin {
				p, err := g.readPassword(name)
				if err != nil {
					return err
				}
				password = p
			} else {
				p, err := generatePassword(24)
				if err != nil {
					return err
				}
				password, generated = p, p
			}
			ac, err := g.admin()
			if err != nil {
				return err
			}
			if !replace {
				if err := userAbsent(cmd.Context(), ac, name); err != nil {
					return err
				}
			}
			u, err := ac.CreateUser(cmd.Context(), client.NewUser{Username: name, Password: password, Roles: roles, Tenant: tenant})
			if err != nil {
				return failure(err, "user add %s", name)
			}
			res := addedUser{UserInfo: u, Scopes: authority.RoleScopes(u.Roles), Password: generated}
			if g.json() {
				return writeJSON(g.io.Out, res)
			}
			verb := "created"
			if replace {
				verb = "created or replaced"
			}
			fmt.Fprintf(g.io.Out, "%s user %s (roles: %s; tenant: %s)\n", verb, u.Username, strings.Join(u.Roles, ", "), orDash(u.Tenant))
			fmt.Fprintf(g.io.Out, "scopes: %s\n", strings.Join(res.Scopes, " "))
			if generated != "" {
				fmt.Fprintf(g.io.Out, "password: %s\n", generated)
				fmt.Fprintln(g.io.Err, "The password is shown once: store it now.")
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringSliceVar(&roles, "role", nil, "role(s): viewer, developer, operator, admin (repeatable or comma-separated)")
	f.StringVar(&tenant, "tenant", "", "tenant (the tid claim of the user's tokens)")
	f.BoolVar(&passwordStdin, "password-stdin", false, "read the password from stdin instead of generating one")
	f.BoolVar(&replace, "replace", false, "replace an existing user of that name (new password, roles and tenant)")
	return c
}

// userAbsent fails when the user exists: adding must not silently reset a password.
func userAbsent(ctx context.Context, ac *client.Client, name string) error {
	us, err := ac.Users(ctx)
	if err != nil {
		return failure(err, "user add %s", name)
	}
	for _, u := range us {
		if u.Username == name {
			return cli.Exit(cli.ExitFailure, fmt.Errorf("user add: user %q already exists (--replace resets its password, roles and tenant)", name))
		}
	}
	return nil
}

// readPassword reads the password of --password-stdin: typed without echo when stdin and
// stdout are terminals, else piped.
func (g *globals) readPassword(user string) (string, error) {
	in, ok := g.io.In.(*os.File)
	if ok && cli.IsTerminal(in) && cli.IsTerminal(g.io.Out) {
		fmt.Fprintf(g.io.Err, "Password for %s: ", user)
		b, err := term.ReadPassword(int(in.Fd()))
		fmt.Fprintln(g.io.Err)
		if err != nil {
			return "", fmt.Errorf("read the password: %w", err)
		}
		return readSecret(bytes.NewReader(b))
	}
	return readSecret(g.io.In)
}

// readSecret reads a password from r: everything up to the end, less one trailing newline.
func readSecret(r io.Reader) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, 4097))
	if err != nil {
		return "", fmt.Errorf("read the password from stdin: %w", err)
	}
	if len(b) > 4096 {
		return "", cli.Usagef("--password-stdin: the password is longer than 4096 bytes")
	}
	s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if s == "" {
		return "", cli.Usagef("--password-stdin: stdin holds no password")
	}
	if strings.ContainsAny(s, "\r\n") {
		return "", cli.Usagef("--password-stdin: the password spans several lines")
	}
	return s, nil
}

// Character classes of generated passwords: each is used at least once so that any policy
// the server may require (upper, lower, digit, symbol) is met. Look-alikes (0/O, 1/l/I) are
// left out; they are read off a terminal and typed.
const (
	pwUpper  = "ABCDEFGHJKLMNPQRSTUVWXYZ"
	pwLower  = "abcdefghijkmnopqrstuvwxyz"
	pwDigit  = "23456789"
	pwSymbol = "-_.:+=@%"
)

// generatePassword returns n random characters with at least one of each class.
func generatePassword(n int) (string, error) {
	pick := func(set string) (byte, error) {
		i, err := rand.Int(rand.Reader, big.NewInt(int64(len(set))))
		if err != nil {
			return 0, fmt.Errorf("generate a password: %w", err)
		}
		return set[i.Int64()], nil
	}
	all := pwUpper + pwLower + pwDigit + pwSymbol
	b := make([]byte, n)
	for i := range b {
		set := all
		if i < 4 {
			set = []string{pwUpper, pwLower, pwDigit, pwSymbol}[i]
		}
		c, err := pick(set)
		if err != nil {
			return "", err
		}
		b[i] = c
	}
	// Shuffle so that the classes' positions are not fixed.
	for i := len(b) - 1; i > 0; i-- {
		j, err := rand.Int(rand.Reader, big.NewInt(int64(i+1)))
		if err != nil {
			return "", fmt.Errorf("generate a password: %w", err)
		}
		b[i], b[j.Int64()] = b[j.Int64()], b[i]
	}
	return string(b), nil
}

func userListCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the users: name, roles, tenant, status, creation time",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ac, err := g.admin()
			if err != nil {
				return err
			}
			us, err := ac.Users(cmd.Context())
			if err != nil {
				return failure(err, "user list")
			}
			if g.json() {
				if us == nil {
					us = []client.UserInfo{}
				}
				return writeJSON(g.io.Out, map[string]any{"users": us})
			}
			if len(us) == 0 {
				fmt.Fprintln(g.io.Out, "no users")
				return nil
			}
			t := newTable(g.io.Out, "USERNAME", "ROLES", "TENANT", "STATUS", "CREATED")
			for _, u := range us {
				t.row(u.Username, strings.Join(u.Roles, ","), u.Tenant, enabled(u.Disabled), stamp(u.CreatedAt))
			}
			return t.flush()
		},
	}
}

func userRemoveCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "remove NAME",
		Short: "Delete a user (tokens already issued stay valid until they expire or are revoked)",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ac, err := g.admin()
			if err != nil {
				return err
			}
			if err := ac.DeleteUser(cmd.Context(), args[0]); err != nil {
				if client.IsStatus(err, 404) {
					return cli.Exit(cli.ExitFailure, fmt.Errorf("user remove: no user %q", args[0]))
				}
				return failure(err, "user remove %s", args[0])
			}
			fmt.Fprintf(g.io.Out, "removed user %s\n", args[0])
			return nil
		},
	}
}

func enabled(disabled bool) string {
	if disabled {
		return "disabled"
	}
	return "enabled"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
