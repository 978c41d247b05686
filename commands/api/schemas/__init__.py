"""Request and response bodies, a module per workflow; every name is importable from here.

Unknown fields are refused rather than silently dropped (`common.Strict`). Importing the package
loads every workflow's bodies, which `free_text_fields()` walks."""

from __future__ import annotations

from commands.api.schemas.common import AmountText, FreeText, PositionIn, ReasonIn, ResultOut, Strict, free_text_fields
from commands.api.schemas.complaints import (ClaimPaymentIn, FactIn, FileComplaintIn, FindingsIn, LiabilityIn,
                                             OpenClaimIn, ProposalIn, ResolutionIn, RevisionIn)
from commands.api.schemas.customers import LanguageIn, RegisterCustomerIn, TimelineOut, UpdateCustomerIn
from commands.api.schemas.field_work import (CheckInIn, CheckOutIn, CompleteIn, DeclineIn, DispatchIn, EngineerIn,
                                             OpenJobIn, OpenRepairIn, PaymentIn, ProductIn, RescheduleIn, WindowIn)
from commands.api.schemas.follow_ups import AcceptReminderIn, DeclineReminderIn, FollowUpIn
from commands.api.schemas.money import (CustomerPaymentIn, CustomerRefundIn, DeductionIn, Period, ResolveChargesIn,
                                        SettlementIn, StatementPaidIn)
from commands.api.schemas.orders import CancelIn, DeliveryStepIn, IncidentIn, ItemIn, PlaceOrderIn, ResolveIncidentIn
from commands.api.schemas.returns import (ExchangeIn, InspectionIn, PartStepIn, PickupIn, RefundIn, RequestReturnIn,
                                          ReturnItemIn, VoteIn)
from commands.api.schemas.service_levels import CallBackIn, CallIn, StartSlaIn

__all__ = ["AcceptReminderIn", "AmountText", "CallBackIn", "CallIn", "CancelIn", "CheckInIn", "CheckOutIn",
           "ClaimPaymentIn", "CompleteIn", "CustomerPaymentIn", "CustomerRefundIn", "DeclineIn", "DeclineReminderIn",
           "DeductionIn", "DeliveryStepIn", "DispatchIn", "EngineerIn", "ExchangeIn", "FactIn", "FileComplaintIn",
           "FindingsIn", "FollowUpIn", "FreeText", "IncidentIn", "InspectionIn", "ItemIn", "LanguageIn", "LiabilityIn",
           "OpenClaimIn", "OpenJobIn", "OpenRepairIn", "PartStepIn", "PaymentIn", "Period", "PickupIn", "PlaceOrderIn",
           "PositionIn", "ProductIn", "ProposalIn", "ReasonIn", "RefundIn", "RegisterCustomerIn", "RequestReturnIn",
           "RescheduleIn", "ResolutionIn", "ResolveChargesIn", "ResolveIncidentIn", "ResultOut", "ReturnItemIn",
           "RevisionIn", "SettlementIn", "StartSlaIn", "StatementPaidIn", "Strict", "TimelineOut", "UpdateCustomerIn",
           "VoteIn", "WindowIn", "free_text_fields"]
