"""Single sign-on (issue 16): OIDC and SAML connections per org, one way to provision and sign in."""
