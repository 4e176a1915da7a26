"""Both ends of a meeting are parties: a municipality names the centre that serves it, and every meeting names
its centre. Rows from before are filled in where the answer is unambiguous (one centre in the database).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("organisations") as batch:
        batch.add_column(sa.Column("serving_centre_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_organisations_serving_centre", "organisations", ["serving_centre_id"], ["id"])
    conn = op.get_bind()
    centres = conn.execute(sa.text("SELECT id FROM organisations WHERE kind = 'centre'")).scalars().all()
    if len(centres) == 1:
        conn.execute(
            sa.text("UPDATE organisations SET serving_centre_id = :c WHERE kind = 'municipality'"), {"c": centres[0]}
        )
        # A meeting made before both ends were parties belongs to the municipality's centre as well.
        conn.execute(
            sa.text(
                "UPDATE meetings SET centre_id = :c WHERE centre_id IS NULL AND organisation_id IN "
                "(SELECT id FROM organisations WHERE kind IN ('municipality', 'municipality_unit'))"
            ),
            {"c": centres[0]},
        )


def downgrade() -> None:
    with op.batch_alter_table("organisations") as batch:
        batch.drop_constraint("fk_organisations_serving_centre", type_="foreignkey")
        batch.drop_column("serving_centre_id")
