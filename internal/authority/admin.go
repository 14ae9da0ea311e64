package authority

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"
)

// idPattern bounds client ids and usernames to what is safe in logs, URLs and file names.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$`)

// NewClient is what an admin supplies to create a client.
type NewClient struct {
	ID             string   `json:"clientId"`
	DisplayName    string   `json:"displayName,omitempty"`
	Scopes         []string `json:"scopes"`
	Grants         []string `json:"grants,omitempty"`
	Tenant         string   `json:"tenant,omitempty"`
	MaxScansPerDay int      `json:"maxScansPerDay,omitempty"`
	// Secret is generated when empty and returned once.
	Secret string `json:"secret,omitempty"`
}

// CreateClient stores a new client (replacing one with the same id) and returns it with its
// secret in clear, which is never stored or shown again.
func (s *Service) CreateClient(ctx context.Context, n NewClient) (Client, string, error) {
	if !idPattern.MatchString(n.ID) {
		return Client{}, "", fmt.Errorf("%w: clientId must be 1-128 characters of letters, digits, '.', '_', '@' and '-'", ErrBadRequest)
	}
	scopes := append([]string{}, n.Scopes...)
	slices.Sort(scopes)
	scopes = slices.Compact(scopes)
	for _, sc := range scopes {
		if !KnownScope(sc) {
			return Client{}, "", fmt.Errorf("%w: unknown scope %q", ErrBadRequest, sc)
		}
	}
	grants := slices.Clone(n.Grants)
	if len(grants) == 0 {
		grants = []string{GrantClientCredentials}
	}
	slices.Sort(grants)
	grants = slices.Compact(grants)
	for _, g := range grants {
		if g != GrantClientCredentials && g != GrantPassword {
			return Client{}, "", fmt.Errorf("%w: unknown grant %q", ErrBadRequest, g)
		}
	}
	if n.MaxScansPerDay < 0 {
		return Client{}, "", fmt.Errorf("%w: maxScansPerDay must not be negative", ErrBadRequest)
	}
	secret := n.Secret
	if secret == "" {
		var err error
		if secret, err = NewSecret(); err != nil {
			return Client{}, "", err
		}
	} else if len(secret) < 16 {
		return Client{}, "", fmt.Errorf("%w: a client secret needs at least 16 characters", ErrBadRequest)
	}
	hash, err := HashSecret(secret, s.cfg.Argon2)
	if err != nil {
		return Client{}, "", err
	}
	c := Client{ID: n.ID, SecretHash: hash, DisplayName: n.DisplayName, Scopes: scopes, Grants: grants, Tenant: n.Tenant,
		MaxScansPerDay: n.MaxScansPerDay, CreatedAt: s.now().Truncate(time.Microsecond)}
	if err := s.store.PutClient(ctx, c); err != nil {
		return Client{}, "", fmt.Errorf("authority: store client: %w", err)
	}
	s.audit(ctx, AuditEvent{Type: "authority.client.create", Outcome: "success", ClientID: c.ID, Scopes: c.Scopes})
	return c, secret, nil
}

// NewUser is what an admin supplies to create a user.
type NewUser struct {
	Username string   `json:"username"`
	Password string   `json:"password"`
	Roles    []string `json:"roles"`
	Tenant   string   `json:"tenant,omitempty"`
}

// CreateUser stores a new user whose password meets the policy.
func (s *Service) CreateUser(ctx context.Context, n NewUser) (User, error) {
	if !idPattern.MatchString(n.Username) {
		return User{}, fmt.Errorf("%w: username must be 1-128 characters of letters, digits, '.', '_', '@' and '-'", ErrBadRequest)
	}
	roles := slices.Clone(n.Roles)
	slices.Sort(roles)
	roles = slices.Compact(roles)
	all := Roles()
	for _, r := range roles {
		if _, ok := all[r]; !ok {
			return User{}, fmt.Errorf("%w: unknown role %q (admin, operator, developer, viewer)", ErrBadRequest, r)
		}
	}
	if len(roles) == 0 {
		return User{}, fmt.Errorf("%w: a user needs at least one role", ErrBadRequest)
	}
	if err := s.pol.Check(n.Password); err != nil {
		return User{}, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	hash, err := HashSecret(n.Password, s.cfg.Argon2)
	if err != nil {
		return User{}, err
	}
	u := User{Username: n.Username, PasswordHash: hash, Roles: roles, Tenant: n.Tenant, CreatedAt: s.now().Truncate(time.Microsecond)}
	if err := s.store.PutUser(ctx, u); err != nil {
		return User{}, fmt.Errorf("authority: store user: %w", err)
	}
	s.audit(ctx, AuditEvent{Type: "authority.user.create", Outcome: "success", Subject: u.Username, Scopes: RoleScopes(roles)})
	return u, nil
}

// DeleteUser removes a user; tokens already issued stay valid until they expire or are revoked.
func (s *Service) DeleteUser(ctx context.Context, username string) error {
	if err := s.store.DeleteUser(ctx, username); err != nil {
		if errors.Is(err, ErrNotFound) {
			return err
		}
		return fmt.Errorf("authority: delete user: %w", err)
	}
	s.audit(ctx, AuditEvent{Type: "authority.user.delete", Outcome: "success", Subject: username})
	return nil
}

// DeleteClient removes a client: it gets no more tokens, while tokens already issued stay
// valid until they expire or are revoked (as for DeleteUser).
func (s *Service) DeleteClient(ctx context.Context, id string) error {
	if err := s.store.DeleteClient(ctx, id); err != nil {
		if errors.Is(err, ErrNotFound) {
			return fmt.Errorf("%w: no client %q", ErrNotFound, id)
		}
		return fmt.Errorf("authority: delete client: %w", err)
	}
	s.audit(ctx, AuditEvent{Type: "authority.client.delete", Outcome: "success", ClientID: id})
	return nil
}
