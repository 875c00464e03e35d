"""Users: dashboard sign-ins, created with a role, deactivated or given a new password."""

from __future__ import annotations

from flask import abort, flash, redirect
from flask.typing import ResponseReturnValue
from flask_admin import expose
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from app.admin import auth
from app.admin.views.base import ID32, SecuredView
from app.models import User
from app.usecases import access
from app.usecases.passwords import MIN_PASSWORD

ROLE_HELP = "admin: everything · operator: subscribers, logs, replay · viewer: read only"


class UserForm(FlaskForm):
    """A new user: name, role and a first password."""

    username = StringField("Username", validators=[DataRequired(), Length(max=150)])
    role = SelectField("Role", choices=list(access.ROLES), default="viewer", description=ROLE_HELP)
    password = PasswordField("Password", validators=[DataRequired(), Length(min=MIN_PASSWORD)])


class PasswordForm(FlaskForm):
    """A new password for an existing user."""

    password = PasswordField("New password", validators=[DataRequired(), Length(min=MIN_PASSWORD)])


class UsersView(SecuredView):
    """Dashboard users; only ``manage`` may see or change them."""

    permission = "manage"

    @expose("/", methods=("GET", "POST"))
    def index(self) -> ResponseReturnValue:
        form = UserForm()
        if form.validate_on_submit():
            try:
                user = access.add_user(
                    form.username.data.strip(), form.password.data, form.role.data
                )
            except access.AccessError as exc:
                form.username.errors = [str(exc)]
            else:
                flash(f"User {user.username!r} was created as {user.role}.", "success")
                return redirect(self.get_url(".index"))
        return self._page(form)

    @expose(f"/<{ID32}:user_id>/active", methods=("POST",))
    def set_active(self, user_id: int) -> ResponseReturnValue:
        """Deactivate or reactivate (POST with CSRF); a deactivated user is signed out at once."""
        me = auth.current_user()
        activate = not _user(user_id).active
        if me is not None and me.id == user_id and not activate:
            flash("You cannot deactivate yourself.", "error")
        else:
            user = access.update_user(user_id, active=activate)
            flash(
                f"User {user.username!r} was {'activated' if activate else 'deactivated'}.",
                "success",
            )
        return redirect(self.get_url(".index"))

    @expose(f"/<{ID32}:user_id>/password", methods=("POST",))
    def reset_password(self, user_id: int) -> ResponseReturnValue:
        """Set a new password; the user's existing sessions end with the old one."""
        user, form = _user(user_id), PasswordForm(prefix="reset")
        if form.validate_on_submit():
            access.update_user(user_id, password=form.password.data)
            flash(f"The password of {user.username!r} was changed.", "success")
            return redirect(self.get_url(".index"))
        flash(f"Password not changed: {'; '.join(form.password.errors)}", "error")
        return self._page(UserForm(formdata=None))

    def _page(self, form: UserForm) -> ResponseReturnValue:
        users = access.list_users()
        return self.render("admin/users.html", form=form, users=users, password_form=PasswordForm)


def _user(user_id: int) -> User:
    return access.get_user(user_id) or abort(404)
