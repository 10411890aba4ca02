package contract

// ClientSettings is clients/client.json: what the client library of the
// deployment is configured with.
type ClientSettings struct {
	URL                   string   `json:"url"`
	Servers               int      `json:"servers"`
	Names                 []string `json:"names"`
	ReconnectDelaySeconds int      `json:"reconnectDelaySeconds"`
	RequestTimeoutSeconds int      `json:"requestTimeoutSeconds"`
	Selection             string   `json:"selection"`
	Test                  bool     `json:"test"`
}

// ParseClientSettings decodes client.json strictly; name is used in errors.
func ParseClientSettings(name string, data []byte) (*ClientSettings, error) {
	var c ClientSettings
	if err := decode(name, data, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// ReadClientSettings reads and decodes the client.json at path.
func ReadClientSettings(path string) (*ClientSettings, error) {
	return readFile(path, ParseClientSettings)
}

// Validate checks what the JSON shape cannot.
func (c *ClientSettings) Validate() error {
	var p problems
	p.need("url", c.URL)
	if c.Servers != len(c.Names) {
		p.add("servers is %d but names has %d entries", c.Servers, len(c.Names))
	}
	if c.ReconnectDelaySeconds < 1 {
		p.add("reconnectDelaySeconds %d must be at least 1", c.ReconnectDelaySeconds)
	}
	if c.RequestTimeoutSeconds < 1 {
		p.add("requestTimeoutSeconds %d must be at least 1", c.RequestTimeoutSeconds)
	}
	return p.err()
}
