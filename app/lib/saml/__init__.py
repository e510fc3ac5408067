"""SAML 2.0 service provider, protocol only (issue 16): IdP metadata, AuthnRequests and response validation on
python3-saml (ADR 0015). Nothing here knows about orgs, users or Redis: app/domain/sso/saml.py does."""
