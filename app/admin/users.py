"""Staff accounts: list them, create one with a generated password (shown once), change roles,
unlock after too many failed sign-ins, remove."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from app.accounts.models import Role, User
from app.accounts.service import AccountError, check_roles, create_user, generate_password
from app.admin.audit import AuditAction, record
from app.admin.service import ActionRefused, is_locked, remove_user, set_roles, unlock
from app.admin.web import (
    AdminUser,
    FormDep,
    FormError,
    admin_page,
    form_text,
    form_texts,
)
from app.config import Settings
from app.deps import SessionDep, SettingsDep, commits_in_thread

router = APIRouter()

ROLE_OPTIONS = [
    (Role.scrutiny.value, "Scrutiny", "reads the results pages and reports"),
    (Role.hr.value, "HR", "reads the results and downloads exports"),
    (Role.admin.value, "Admin", "runs the survey year and manages accounts (these pages)"),
]
"""Each role as a checkbox: value, label, hint."""


def _account(user_id: int, session: SessionDep) -> User:
    found = session.get(User, user_id)
    if found is None:
        raise HTTPException(404, "There is no such account.")
    return found


AccountDep = Annotated[User, Depends(_account)]


@router.get("/users", response_class=HTMLResponse)
def users_page(
    request: Request, session: SessionDep, settings: SettingsDep, user: AdminUser
) -> HTMLResponse:
    accounts = list(session.scalars(select(User).order_by(User.email)))
    return admin_page(
        request,
        settings,
        "admin/users.html",
        {"accounts": [(account, is_locked(account)) for account in accounts]},
        user=user,
    )


def _new_user_page(
    request: Request,
    settings: Settings,
    user: User,
    email: str = "",
    roles: list[str] | None = None,
    errors: Sequence[FormError] = (),
) -> HTMLResponse:
    return admin_page(
        request,
        settings,
        "admin/user_new.html",
        {"email": email, "chosen": roles or [], "role_options": ROLE_OPTIONS},
        user=user,
        errors=errors,
    )


@router.get("/users/new", response_class=HTMLResponse)
def new_user_page(request: Request, settings: SettingsDep, user: AdminUser) -> HTMLResponse:
    return _new_user_page(request, settings, user)


@router.post("/users", response_class=HTMLResponse)
@commits_in_thread
def create(
    request: Request, session: SessionDep, settings: SettingsDep, user: AdminUser, form: FormDep
) -> Response:
    """The generated password is on this response only: it is not a redirect."""
    email, roles = form_text(form, "email"), form_texts(form, "roles")
    errors = []
    if not email:
        errors.append(FormError("email", "Enter the person's email address"))
    try:
        if not check_roles(roles):
            errors.append(FormError("roles", "Choose at least one role"))
    except AccountError as unknown:
        errors.append(FormError("roles", str(unknown)))
    if errors:
        return _new_user_page(request, settings, user, email, roles, errors)
    password = generate_password()
    try:
        created = create_user(session=session, email=email, roles=roles, password=password)
    except AccountError as refused:
        error = FormError("email", str(refused))
        return _new_user_page(request, settings, user, email, roles, [error])
    record(
        session=session,
        actor=user,
        action=AuditAction.user_created,
        target=created.email,
        roles=created.roles,
    )
    return admin_page(
        request,
        settings,
        "admin/user_created.html",
        {"account": created, "password": password},
        user=user,
    )


def _user_page(
    request: Request,
    settings: Settings,
    user: User,
    account: User,
    errors: Sequence[FormError] = (),
) -> HTMLResponse:
    return admin_page(
        request,
        settings,
        "admin/user.html",
        {"account": account, "locked": is_locked(account), "role_options": ROLE_OPTIONS},
        user=user,
        errors=errors,
    )


def _account_url(account: User) -> str:
    return f"/admin/users/{account.id}"


@router.get("/users/{user_id}", response_class=HTMLResponse)
def user_page(
    request: Request, account: AccountDep, settings: SettingsDep, user: AdminUser
) -> HTMLResponse:
    return _user_page(request, settings, user, account)


@router.post("/users/{user_id}/roles", response_class=HTMLResponse)
@commits_in_thread
def change_roles(
    request: Request,
    account: AccountDep,
    session: SessionDep,
    settings: SettingsDep,
    user: AdminUser,
    form: FormDep,
) -> Response:
    before = list(account.roles)
    try:
        set_roles(session=session, actor=user, user=account, roles=form_texts(form, "roles"))
    except (ActionRefused, AccountError) as refused:
        return _user_page(request, settings, user, account, [FormError("roles", str(refused))])
    record(
        session=session,
        actor=user,
        action=AuditAction.roles_changed,
        target=account.email,
        roles_before=before,
        roles=account.roles,
    )
    return RedirectResponse(f"{_account_url(account)}?done=roles", status_code=303)


@router.post("/users/{user_id}/unlock", response_class=HTMLResponse)
@commits_in_thread
def unlock_account(
    request: Request,
    account: AccountDep,
    session: SessionDep,
    settings: SettingsDep,
    user: AdminUser,
    form: FormDep,
) -> Response:
    unlock(session=session, user=account)
    record(session=session, actor=user, action=AuditAction.user_unlocked, target=account.email)
    return RedirectResponse(f"{_account_url(account)}?done=unlocked", status_code=303)


@router.post("/users/{user_id}/remove", response_class=HTMLResponse)
@commits_in_thread
def remove(
    request: Request,
    account: AccountDep,
    session: SessionDep,
    settings: SettingsDep,
    user: AdminUser,
    form: FormDep,
) -> Response:
    if form_text(form, "confirm") != "yes":
        error = FormError("confirm", f"Confirm that {account.email}'s account is to be removed")
        return _user_page(request, settings, user, account, [error])
    roles = list(account.roles)
    try:
        remove_user(session=session, actor=user, user=account)
    except ActionRefused as refused:
        return _user_page(request, settings, user, account, [FormError("confirm", str(refused))])
    record(
        session=session,
        actor=user,
        action=AuditAction.user_removed,
        target=account.email,
        roles=roles,
    )
    return RedirectResponse("/admin/users?done=removed", status_code=303)
