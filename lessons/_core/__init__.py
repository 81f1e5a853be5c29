"""What every lesson shares: notebook setup, data, argument checks, claims, tables, figures."""
