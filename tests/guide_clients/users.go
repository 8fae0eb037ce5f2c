// The Go guide's own client code, verbatim from the seed guide (../../../shared/seed/,
// section "HTTP Client"), so the test runs the guide's clients unchanged against
// Switchboard. Only the package clause differs, so the sections build as one program with
// main.go, the driver.

package main

import (
    "bytes"
    "encoding/json"
    "fmt"
    "io"
    "net/http"
    "time"
)

// User represents a user in our system
type User struct {
    ID       int    `json:"id,omitempty"`
    Username string `json:"username"`
    Email    string `json:"email"`
    Age      int    `json:"age"`
}

type HTTPClient struct {
    client  *http.Client
    baseURL string
}

func NewHTTPClient(baseURL string) *HTTPClient {
    return &HTTPClient{
        client: &http.Client{
            Timeout: 15 * time.Second,
        },
        baseURL: baseURL,
    }
}

// GetUser retrieves a user by ID using GET request
func (c *HTTPClient) GetUser(userID int) (*User, error) {
    url := fmt.Sprintf("%s/api/users/%d", c.baseURL, userID)
    
    resp, err := c.client.Get(url)
    if err != nil {
        return nil, fmt.Errorf("failed to make GET request: %w", err)
    }
    defer resp.Body.Close()
    
    // Check if request was successful
    if resp.StatusCode != http.StatusOK {
        body, _ := io.ReadAll(resp.Body)
        return nil, fmt.Errorf("request failed with status %d: %s", resp.StatusCode, string(body))
    }
    
    // Decode JSON response
    var user User
    if err := json.NewDecoder(resp.Body).Decode(&user); err != nil {
        return nil, fmt.Errorf("failed to decode response: %w", err)
    }
    
    return &user, nil
}

// CreateUser creates a new user using POST request
func (c *HTTPClient) CreateUser(user User) (*User, error) {
    url := fmt.Sprintf("%s/api/users", c.baseURL)
    
    // Convert user to JSON
    jsonData, err := json.Marshal(user)
    if err != nil {
        return nil, fmt.Errorf("failed to marshal user: %w", err)
    }
    
    // Create POST request
    resp, err := c.client.Post(url, "application/json", bytes.NewBuffer(jsonData))
    if err != nil {
        return nil, fmt.Errorf("failed to make POST request: %w", err)
    }
    defer resp.Body.Close()
    
    // Check if creation was successful
    if resp.StatusCode != http.StatusCreated {
        body, _ := io.ReadAll(resp.Body)
        return nil, fmt.Errorf("request failed with status %d: %s", resp.StatusCode, string(body))
    }
    
    // Decode the created user from response
    var createdUser User
    if err := json.NewDecoder(resp.Body).Decode(&createdUser); err != nil {
        return nil, fmt.Errorf("failed to decode response: %w", err)
    }
    
    return &createdUser, nil
}

// UpdateUser updates an existing user using PUT request
func (c *HTTPClient) UpdateUser(userID int, user User) (*User, error) {
    url := fmt.Sprintf("%s/api/users/%d", c.baseURL, userID)
    
    // Convert user to JSON
    jsonData, err := json.Marshal(user)
    if err != nil {
        return nil, fmt.Errorf("failed to marshal user: %w", err)
    }
    
    // Create PUT request
    req, err := http.NewRequest(http.MethodPut, url, bytes.NewBuffer(jsonData))
    if err != nil {
        return nil, fmt.Errorf("failed to create request: %w", err)
    }
    req.Header.Set("Content-Type", "application/json")
    
    resp, err := c.client.Do(req)
    if err != nil {
        return nil, fmt.Errorf("failed to make PUT request: %w", err)
    }
    defer resp.Body.Close()
    
    if resp.StatusCode != http.StatusOK {
        body, _ := io.ReadAll(resp.Body)
        return nil, fmt.Errorf("request failed with status %d: %s", resp.StatusCode, string(body))
    }
    
    var updatedUser User
    if err := json.NewDecoder(resp.Body).Decode(&updatedUser); err != nil {
        return nil, fmt.Errorf("failed to decode response: %w", err)
    }
    
    return &updatedUser, nil
}

// DeleteUser deletes a user using DELETE request
func (c *HTTPClient) DeleteUser(userID int) error {
    url := fmt.Sprintf("%s/api/users/%d", c.baseURL, userID)
    
    // Create DELETE request
    req, err := http.NewRequest(http.MethodDelete, url, nil)
    if err != nil {
        return fmt.Errorf("failed to create request: %w", err)
    }
    
    resp, err := c.client.Do(req)
    if err != nil {
        return fmt.Errorf("failed to make DELETE request: %w", err)
    }
    defer resp.Body.Close()
    
    if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusOK {
        body, _ := io.ReadAll(resp.Body)
        return fmt.Errorf("request failed with status %d: %s", resp.StatusCode, string(body))
    }
    
    return nil
}

// SearchUsers searches for users with query parameters
func (c *HTTPClient) SearchUsers(query string, page, limit int) ([]User, error) {
    // Build URL with query parameters
    baseURL := fmt.Sprintf("%s/api/users/search", c.baseURL)
    
    req, err := http.NewRequest(http.MethodGet, baseURL, nil)
    if err != nil {
        return nil, fmt.Errorf("failed to create request: %w", err)
    }
    
    // Add query parameters
    q := req.URL.Query()
    q.Add("q", query)
    q.Add("page", fmt.Sprintf("%d", page))
    q.Add("limit", fmt.Sprintf("%d", limit))
    req.URL.RawQuery = q.Encode()
    
    // The URL will look like: /api/users/search?q=john&page=1&limit=10
    
    resp, err := c.client.Do(req)
    if err != nil {
        return nil, fmt.Errorf("failed to make request: %w", err)
    }
    defer resp.Body.Close()
    
    if resp.StatusCode != http.StatusOK {
        return nil, fmt.Errorf("request failed with status %d", resp.StatusCode)
    }
    
    var users []User
    if err := json.NewDecoder(resp.Body).Decode(&users); err != nil {
        return nil, fmt.Errorf("failed to decode response: %w", err)
    }
    
    return users, nil
}
