from django.contrib import admin

from tillbook.customers.models import Customer, Tag


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("email", "name", "business", "marketing_consent", "created_at")
    list_filter = ("marketing_consent",)
    search_fields = ("email", "name")
    raw_id_fields = ("tags",)


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ("name", "business")
