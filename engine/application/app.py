"""ServiceOrderApp: the engine's facade. It owns the event store (engine/store) and composes
one handler per workflow; each public method is a handler's method under the same name.

Methods take and return ids and plain values, never aggregates. Every command is one
atomic write (engine/application/unit_of_work.py); what one workflow does in reaction to
another is in engine/application/policies.py.
"""

from __future__ import annotations

from uuid import UUID

from engine.application.config import EngineConfig
from engine.application.context import CommandContext
from engine.application.delegation import handled_by
from engine.application.complaints import Complaints
from engine.application.consumables import Consumables
from engine.application.customers import Customers
from engine.application.field_work import FieldWork
from engine.application.follow_ups import FollowUps
from engine.application.money import Money
from engine.application.orders import Orders
from engine.application.returns import Returns
from engine.application.service_levels import ServiceLevels
from engine.application.reads import Reads
from engine.application.scheduling import Deadlines
from engine.application.unit_of_work import CommandResult, UnitOfWork
from engine.domain.accounts import EngineerAccount
from engine.domain.claims import CompensationClaim
from engine.domain.jobs import FieldJob
from engine.domain.orders import ServiceOrder
from engine.store.eventstore import EventStoreApplication, event_store_env


class ServiceOrderApp(EventStoreApplication):
    name = "ServiceOrders"
    # Long histories (position updates, visits) make snapshots pay.
    snapshotting_intervals = {ServiceOrder: 50, FieldJob: 50, EngineerAccount: 50, CompensationClaim: 50}

    orders: Orders
    field_work: FieldWork
    follow_ups: FollowUps
    returns: Returns
    complaints: Complaints
    service_levels: ServiceLevels
    consumables: Consumables
    money: Money
    customers: Customers

    def __init__(self, config: EngineConfig | None = None) -> None:
        config = config or EngineConfig()
        super().__init__(env=config.env, group_commit_max=config.group_commit_max, key_store=config.key_store,
                         signer=config.signer)
        self.config = config
        self.clock = config.clock
        self.uow = UnitOfWork(self, config.clock)
        self.deadlines = Deadlines(self.uow)
        self.reads = Reads(self.uow)
        self.orders = Orders(self.uow, self.deadlines, config)
        self.field_work = FieldWork(self.uow, self.deadlines, config)
        self.follow_ups = FollowUps(self.uow, self.deadlines, config)
        self.returns = Returns(self.uow, self.deadlines, config)
        self.complaints = Complaints(self.uow, self.deadlines, config)
        self.service_levels = ServiceLevels(self.uow, self.deadlines, config)
        self.consumables = Consumables(self.uow, self.deadlines, config)
        self.money = Money(self.uow, self.deadlines, config)
        self.customers = Customers(self.uow, self.deadlines, config)

    def fire_deadline(self, deadline_uuid: UUID, ctx: CommandContext | None = None) -> str:
        """Fire one due deadline (engine/application/scheduling.py)."""
        return self.deadlines.fire(deadline_uuid, ctx)

    # Reading the store ---------------------------------------------------------------------
    event_at = handled_by("reads", Reads.event_at)
    history = handled_by("reads", Reads.history)
    aggregate_type = handled_by("reads", Reads.aggregate_type)
    customer_of = handled_by("reads", Reads.customer_of)
    origin = handled_by("reads", Reads.origin)

    # Workflow 1: orders and their delivery --------------------------------------------
    place_order = handled_by("orders", Orders.place_order)
    record_delivery_step = handled_by("orders", Orders.record_delivery_step)
    report_incident = handled_by("orders", Orders.report_incident)
    resolve_incident = handled_by("orders", Orders.resolve_incident)
    cancel_order = handled_by("orders", Orders.cancel_order)
    get_order = handled_by("orders", Orders.get_order)

    # Workflow 2: installation and field jobs ------------------------------------------
    open_job = handled_by("field_work", FieldWork.open_job)
    open_repair = handled_by("field_work", FieldWork.open_repair)
    dispatch_job = handled_by("field_work", FieldWork.dispatch_job)
    accept_job = handled_by("field_work", FieldWork.accept_job)
    decline_job = handled_by("field_work", FieldWork.decline_job)
    agree_appointment = handled_by("field_work", FieldWork.agree_appointment)
    reschedule_appointment = handled_by("field_work", FieldWork.reschedule_appointment)
    set_site_location = handled_by("field_work", FieldWork.set_site_location)
    check_in = handled_by("field_work", FieldWork.check_in)
    check_out = handled_by("field_work", FieldWork.check_out)
    complete_job = handled_by("field_work", FieldWork.complete_job)
    install_by_customer = handled_by("field_work", FieldWork.install_by_customer)
    cancel_at_door = handled_by("field_work", FieldWork.cancel_at_door)
    record_payment = handled_by("field_work", FieldWork.record_payment)
    reopen_job = handled_by("field_work", FieldWork.reopen_job)
    resolve_charges = handled_by("field_work", FieldWork.resolve_charges)
    get_job = handled_by("field_work", FieldWork.get_job)

    # Workflow 3: follow-up call-backs -------------------------------------------------
    record_follow_up = handled_by("follow_ups", FollowUps.record_follow_up)
    get_follow_up = handled_by("follow_ups", FollowUps.get_follow_up)

    # Workflow 4: returns and exchanges ------------------------------------------------
    request_return = handled_by("returns", Returns.request_return)
    vote_on_return = handled_by("returns", Returns.vote_on_return)
    schedule_return_pickup = handled_by("returns", Returns.schedule_return_pickup)
    receive_returned_goods = handled_by("returns", Returns.receive_returned_goods)
    inspect_return = handled_by("returns", Returns.inspect_return)
    issue_return_refund = handled_by("returns", Returns.issue_return_refund)
    ship_return_exchange = handled_by("returns", Returns.ship_return_exchange)
    track_returned_part = handled_by("returns", Returns.track_returned_part)
    close_return = handled_by("returns", Returns.close_return)
    get_return = handled_by("returns", Returns.get_return)

    # Workflow 5: complaints and compensation claims -----------------------------------
    file_complaint = handled_by("complaints", Complaints.file_complaint)
    acknowledge_complaint = handled_by("complaints", Complaints.acknowledge_complaint)
    investigate_complaint = handled_by("complaints", Complaints.investigate_complaint)
    resolve_complaint = handled_by("complaints", Complaints.resolve_complaint)
    close_complaint = handled_by("complaints", Complaints.close_complaint)
    reopen_complaint = handled_by("complaints", Complaints.reopen_complaint)
    get_complaint = handled_by("complaints", Complaints.get_complaint)
    open_claim = handled_by("complaints", Complaints.open_claim)
    record_claim_fact = handled_by("complaints", Complaints.record_claim_fact)
    determine_liability = handled_by("complaints", Complaints.determine_liability)
    propose_compensation = handled_by("complaints", Complaints.propose_compensation)
    dispute_compensation = handled_by("complaints", Complaints.dispute_compensation)
    revise_compensation = handled_by("complaints", Complaints.revise_compensation)
    accept_compensation = handled_by("complaints", Complaints.accept_compensation)
    pay_compensation = handled_by("complaints", Complaints.pay_compensation)
    close_claim = handled_by("complaints", Complaints.close_claim)
    reopen_claim = handled_by("complaints", Complaints.reopen_claim)
    get_claim = handled_by("complaints", Complaints.get_claim)

    # Workflow 6: service levels and the hotline ---------------------------------------
    start_sla = handled_by("service_levels", ServiceLevels.start_sla)
    pause_sla = handled_by("service_levels", ServiceLevels.pause_sla)
    resume_sla = handled_by("service_levels", ServiceLevels.resume_sla)
    complete_sla = handled_by("service_levels", ServiceLevels.complete_sla)
    get_sla = handled_by("service_levels", ServiceLevels.get_sla)
    record_call = handled_by("service_levels", ServiceLevels.record_call)
    call_back = handled_by("service_levels", ServiceLevels.call_back)

    # Workflow 7: consumable reminders -------------------------------------------------
    decline_reminder = handled_by("consumables", Consumables.decline_reminder)
    accept_reminder = handled_by("consumables", Consumables.accept_reminder)
    get_reminder = handled_by("consumables", Consumables.get_reminder)

    # Workflows 8 and 9: engineer settlement, customer payments and refunds ------------
    apply_deduction = handled_by("money", Money.apply_deduction)
    run_settlement = handled_by("money", Money.run_settlement)
    pay_statement = handled_by("money", Money.pay_statement)
    get_account = handled_by("money", Money.get_account)
    receive_payment = handled_by("money", Money.receive_payment)
    pay_refund = handled_by("money", Money.pay_refund)

    # Workflow 10: the customer file ---------------------------------------------------
    register_customer = handled_by("customers", Customers.register_customer)
    update_customer = handled_by("customers", Customers.update_customer)
    prefer_customer_language = handled_by("customers", Customers.prefer_customer_language)
    erase_personal_data = handled_by("customers", Customers.erase_personal_data)


__all__ = ["CommandResult", "EngineConfig", "ServiceOrderApp", "event_store_env"]
