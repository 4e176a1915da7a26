"""Who may do what, where: organisations, staff roles and delegation, authorization (Altinn), permissions,
isolation between organisations, revocation, Brukerpass, citizens' join links and failed-guess limits."""
