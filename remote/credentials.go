package remote

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"
)

// Environment variables read by LoadCredentials.
const (
	EnvClientID     = "CUSTSYNC_CLIENT_ID"
	EnvClientSecret = "CUSTSYNC_CLIENT_SECRET"
)

// ErrMissingCredentials means no client id or no client secret was given by any source.
var ErrMissingCredentials = errors.New("client id and client secret are required (flags, CUSTSYNC_CLIENT_ID/CUSTSYNC_CLIENT_SECRET or a secret file)")

// Credentials are OAuth2 client credentials. String redacts them.
type Credentials struct {
	ClientID, ClientSecret string
}

// String reports which parts are set without revealing them.
func (c Credentials) String() string {
	return fmt.Sprintf("remote.Credentials{ClientID:%s ClientSecret:%s}", redacted(c.ClientID), redacted(c.ClientSecret))
}

// GoString redacts like String.
func (c Credentials) GoString() string { return c.String() }

// LogValue redacts like String.
func (c Credentials) LogValue() slog.Value { return slog.StringValue(c.String()) }

// CredentialSources are the places LoadCredentials looks, in order of precedence:
// flags, then the environment, then the secret file (secret only).
type CredentialSources struct {
	// FlagClientID and FlagClientSecret are the values of --client-id and --client-secret.
	FlagClientID, FlagClientSecret string
	// SecretFile is the path given by --client-secret-file. The file holds the secret alone;
	// surrounding whitespace (the trailing newline editors add) is trimmed.
	SecretFile string
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
	// Logger receives the warning about a secret file readable by group or others; nil discards.
	Logger *slog.Logger
}

// LoadCredentials resolves the client id and secret. The id comes from the flag or
// CUSTSYNC_CLIENT_ID; the secret from the flag, CUSTSYNC_CLIENT_SECRET or the secret file.
// A secret file readable by group or others is used with a warning rather than refused,
// because mounted secrets (Kubernetes, Docker) are often 0644 and refusing would break them.
// The returned errors never contain the secret.
func LoadCredentials(src CredentialSources) (Credentials, error) {
	getenv := src.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	creds := Credentials{
		ClientID:     cmp.Or(src.FlagClientID, getenv(EnvClientID)),
		ClientSecret: cmp.Or(src.FlagClientSecret, getenv(EnvClientSecret)),
	}
	if creds.ClientSecret == "" && src.SecretFile != "" {
		secret, err := readSecretFile(src.SecretFile, src.Logger)
		if err != nil {
			return Credentials{}, err
		}
		creds.ClientSecret = secret
	}
	if creds.ClientID == "" || creds.ClientSecret == "" {
		return Credentials{}, ErrMissingCredentials
	}
	return creds, nil
}

func readSecretFile(path string, logger *slog.Logger) (string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("client secret file: %w", err)
	}
	if !info.Mode().IsRegular() {
		return "", fmt.Errorf("client secret file %s is not a regular file", path)
	}
	if runtime.GOOS != "windows" && info.Mode().Perm()&0o077 != 0 && logger != nil {
		logger.Warn("client secret file is readable by group or others; chmod 600 it",
			slog.String("path", path), slog.String("mode", info.Mode().Perm().String()))
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("client secret file: %w", err)
	}
	secret := strings.TrimSpace(string(data))
	if secret == "" {
		return "", fmt.Errorf("client secret file %s is empty", path)
	}
	if strings.ContainsAny(secret, "\r\n") {
		// Several lines usually mean the wrong file (a key file, an env file); sending it
		// as a secret would only produce a confusing 401.
		return "", fmt.Errorf("client secret file %s holds more than one line; it must contain the secret alone", path)
	}
	return secret, nil
}
