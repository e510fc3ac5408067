"""An LTI 1.3 platform (an LMS) implemented in the test suite: the real protocol peer Lyceum's tool talks to.

``server.PlatformServer`` is the HTTP side on loopback (routes, and a record of every request the tool
made); ``platform`` adds the OIDC login, key sets and signed launches; ``services`` the OAuth2 token
endpoint, Assignment and Grade Services and Names and Role Provisioning Services.
"""
